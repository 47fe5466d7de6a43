// The app's words in Russian and English. The browser's language chooses; the switch in the
// header overrides it and is remembered on this browser.

const words = {
  en: {
    loading: 'Loading…',
    'nav.label': 'Main', 'nav.generate': 'Generate', 'nav.history': 'History', 'nav.plans': 'Plans', 'nav.account': 'Account',
    'nav.signIn': 'Sign in', 'nav.signUp': 'Sign up', 'nav.signOut': 'Sign out', 'nav.language': 'Language',
    'notFound.title': 'No such page', 'notFound.back': 'Back to the generator',
    'error.unknown': 'Something went wrong; try again.', 'error.seePlans': 'See the plans.',
    'wait.seconds': '{label} ({seconds} s)',
    'auth.signInTitle': 'Sign in', 'auth.signUpTitle': 'Create an account', 'auth.email': 'Email', 'auth.password': 'Password',
    'auth.passwordHint': 'At least 10 characters; not a common password.', 'auth.signIn': 'Sign in', 'auth.signUp': 'Sign up',
    'auth.noAccount': 'No account yet?', 'auth.haveAccount': 'Have an account?',
    'gen.title': 'Generate', 'gen.function': 'What to write', 'gen.topic': 'Topic', 'gen.language': 'Language of the answer',
    'gen.maxTokens': 'Length limit (tokens)', 'gen.maxTokensHint': 'Empty: the function’s own.', 'gen.submit': 'Generate',
    'gen.writing': 'Writing…', 'gen.done': 'Done', 'gen.remaining': '{count} left today', 'gen.truncated': 'cut at the length limit', 'gen.open': 'Open', 'gen.cancel': 'Cancel',
    'fn.summary': 'Summary', 'fn.explain': 'Explanation', 'fn.quiz': 'Quiz', 'fn.title': 'Title', 'fn.lesson_plan': 'Lesson plan (long)', 'fn.scenario': 'Scenario (long)',
    'lang.ru': 'Russian', 'lang.en': 'English',
    'status.queued': 'Queued', 'status.running': 'Running', 'status.succeeded': 'Done', 'status.failed': 'Failed', 'status.canceled': 'Canceled',
    'history.title': 'History', 'history.more': 'More', 'history.empty': 'Nothing generated yet.', 'history.start': 'Generate something.',
    'history.back': 'Back to the history',
    'result.copy': 'Copy', 'result.copied': 'Copied.',
    'plans.title': 'Plans', 'plans.yours': 'Your plan: {plan}', 'plans.today': 'Today', 'plans.period': 'This period',
    'plans.used': '{used} of {limit}', 'plans.remaining': '{count} left; resets {when}', 'plans.periodEnds': 'the period ends {when}',
    'plans.next': 'then {plan} from {when}', 'plans.current': 'Your plan', 'plans.choose': 'Choose',
    'plans.perMonth': '{price} a month', 'plans.perDay': '{count} generations a day', 'plans.perPeriod': '{count} a month',
    'plans.maxTokens': 'answers up to {count} tokens', 'plans.long': 'long tasks: lesson plans, scenarios', 'plans.shortOnly': 'short answers only',
    'plans.cancel': 'Cancel at the period’s end', 'plans.resume': 'Keep the subscription',
    'subscription.trial': 'Trial', 'subscription.active': 'Active', 'subscription.past_due': 'Payment due', 'subscription.canceled': 'Canceled',
    'subscription.expired': 'Expired', 'subscription.none': 'No subscription',
    'account.title': 'Account', 'account.sessions': 'Where you are signed in', 'account.thisSession': 'this browser',
    'account.unknownDevice': 'Unknown device', 'account.lastUsed': 'last used {when}', 'account.signOutThis': 'Sign out',
    'account.signOutEverywhere': 'Sign out everywhere', 'account.apiKeys': 'API keys', 'account.newKey': 'New key',
    'account.keyName': 'Name', 'account.keyDays': 'Expires in (days)', 'account.scopes': 'What it may do', 'account.password': 'Password',
    'account.createKey': 'Create the key', 'account.keyOnce': 'Copy the key now: it is not shown again.', 'account.revoke': 'Revoke',
    'account.expires': 'expires {when}', 'account.noExpiry': 'no expiry', 'account.currentPassword': 'Current password',
    'account.newPassword': 'New password', 'account.changePassword': 'Change the password',
    'account.passwordChanged': 'Changed. Your other sessions were signed out, and your API keys revoked.',
    'account.telegramOnly': 'Signed in with Telegram', 'account.telegramLinked': 'Linked to {name}.', 'account.unlinkTelegram': 'Unlink Telegram',
    'account.keyDailyLimit': 'Daily limit (USD)', 'account.keyDailyLimitHint': 'on the developers’ API; empty for none',
    'account.dailyLimit': 'up to {amount} a day', 'account.changeLimit': 'Daily limit', 'account.saveLimit': 'Save the limit',
    'developers.title': 'Developers’ API', 'developers.balance': 'Balance: {available} available, {held} held by requests under way.',
    'developers.amount': 'Add (USD)', 'developers.topUp': 'Top up', 'developers.usage': 'Usage from {from} to {to} (UTC)',
    'developers.totals': '{requests} requests, {tokens} tokens, {cost}.', 'developers.csv': 'Download the usage by day, key and model (CSV)',
    'teams.title': 'Teams', 'teams.about': 'A team shares one balance, its usage and its API keys; each member’s role says what they may do.',
    'teams.new': 'New team', 'teams.name': 'Name', 'teams.create': 'Create the team', 'teams.yourRole': 'your role: {role}', 'teams.you': 'you',
    'teams.members': 'Members', 'teams.role': 'Role', 'teams.remove': 'Remove', 'teams.leave': 'Leave',
    'teams.invitations': 'Invitations', 'teams.invite': 'Invite', 'teams.keys': 'The team’s API keys',
    'teams.linkOnce': 'Send this link to {email}: it works once, for 7 days, and is not shown again.',
    'teams.invited': 'You were invited to a team.', 'teams.join': 'Join the team', 'teams.joined': 'You joined {name} as {role}.',
    'role.owner': 'owner', 'role.admin': 'admin', 'role.billing': 'billing', 'role.member': 'member',
    'bell.label': '{count} new notifications', 'bell.empty': 'Nothing new.', 'bell.open': 'open',
    'event.generation.succeeded': 'A generation is done', 'event.generation.failed': 'A generation failed',
    'event.generation.canceled': 'A generation was canceled', 'event.subscription.changed': 'Your subscription changed',
    'event.session.revoked': 'A session was signed out', 'event.document.shared': 'A document was shared with you',
    'event.document.updated': 'A document you shared was changed',
  },
  ru: {
    loading: 'Загрузка…',
    'nav.label': 'Главное', 'nav.generate': 'Создать', 'nav.history': 'История', 'nav.plans': 'Тарифы', 'nav.account': 'Аккаунт',
    'nav.signIn': 'Войти', 'nav.signUp': 'Регистрация', 'nav.signOut': 'Выйти', 'nav.language': 'Язык',
    'notFound.title': 'Нет такой страницы', 'notFound.back': 'К генератору',
    'error.unknown': 'Что-то пошло не так; попробуйте ещё раз.', 'error.seePlans': 'Посмотреть тарифы.',
    'wait.seconds': '{label} ({seconds} с)',
    'auth.signInTitle': 'Вход', 'auth.signUpTitle': 'Регистрация', 'auth.email': 'Эл. почта', 'auth.password': 'Пароль',
    'auth.passwordHint': 'Не меньше 10 символов; не распространённый пароль.', 'auth.signIn': 'Войти', 'auth.signUp': 'Зарегистрироваться',
    'auth.noAccount': 'Ещё нет аккаунта?', 'auth.haveAccount': 'Уже есть аккаунт?',
    'gen.title': 'Создать', 'gen.function': 'Что написать', 'gen.topic': 'Тема', 'gen.language': 'Язык ответа',
    'gen.maxTokens': 'Ограничение длины (токены)', 'gen.maxTokensHint': 'Пусто: как задано для функции.', 'gen.submit': 'Создать',
    'gen.writing': 'Пишется…', 'gen.done': 'Готово', 'gen.remaining': 'осталось сегодня: {count}', 'gen.truncated': 'обрезано по ограничению длины', 'gen.open': 'Открыть', 'gen.cancel': 'Отменить',
    'fn.summary': 'Краткое изложение', 'fn.explain': 'Объяснение', 'fn.quiz': 'Тест', 'fn.title': 'Заголовок', 'fn.lesson_plan': 'План урока (долго)', 'fn.scenario': 'Сценарий (долго)',
    'lang.ru': 'Русский', 'lang.en': 'Английский',
    'status.queued': 'В очереди', 'status.running': 'Выполняется', 'status.succeeded': 'Готово', 'status.failed': 'Ошибка', 'status.canceled': 'Отменено',
    'history.title': 'История', 'history.more': 'Ещё', 'history.empty': 'Пока ничего не создано.', 'history.start': 'Создать.',
    'history.back': 'К истории',
    'result.copy': 'Копировать', 'result.copied': 'Скопировано.',
    'plans.title': 'Тарифы', 'plans.yours': 'Ваш тариф: {plan}', 'plans.today': 'Сегодня', 'plans.period': 'Этот период',
    'plans.used': '{used} из {limit}', 'plans.remaining': 'осталось {count}; обновится {when}', 'plans.periodEnds': 'период заканчивается {when}',
    'plans.next': 'затем {plan} с {when}', 'plans.current': 'Ваш тариф', 'plans.choose': 'Выбрать',
    'plans.perMonth': '{price} в месяц', 'plans.perDay': '{count} генераций в день', 'plans.perPeriod': '{count} в месяц',
    'plans.maxTokens': 'ответы до {count} токенов', 'plans.long': 'долгие задачи: планы уроков, сценарии', 'plans.shortOnly': 'только короткие ответы',
    'plans.cancel': 'Отменить в конце периода', 'plans.resume': 'Оставить подписку',
    'subscription.trial': 'Пробный период', 'subscription.active': 'Активна', 'subscription.past_due': 'Ждёт оплаты', 'subscription.canceled': 'Отменена',
    'subscription.expired': 'Истекла', 'subscription.none': 'Нет подписки',
    'account.title': 'Аккаунт', 'account.sessions': 'Где выполнен вход', 'account.thisSession': 'этот браузер',
    'account.unknownDevice': 'Неизвестное устройство', 'account.lastUsed': 'последний раз {when}', 'account.signOutThis': 'Выйти',
    'account.signOutEverywhere': 'Выйти везде', 'account.apiKeys': 'Ключи API', 'account.newKey': 'Новый ключ',
    'account.keyName': 'Название', 'account.keyDays': 'Срок (дней)', 'account.scopes': 'Что разрешено', 'account.password': 'Пароль',
    'account.createKey': 'Создать ключ', 'account.keyOnce': 'Скопируйте ключ сейчас: больше он не будет показан.', 'account.revoke': 'Отозвать',
    'account.expires': 'истекает {when}', 'account.noExpiry': 'бессрочно', 'account.currentPassword': 'Текущий пароль',
    'account.newPassword': 'Новый пароль', 'account.changePassword': 'Сменить пароль',
    'account.passwordChanged': 'Пароль изменён. Другие сеансы завершены, ключи API отозваны.',
    'account.telegramOnly': 'Вход через Telegram', 'account.telegramLinked': 'Привязан {name}.', 'account.unlinkTelegram': 'Отвязать Telegram',
    'account.keyDailyLimit': 'Лимит в день (USD)', 'account.keyDailyLimitHint': 'в API для разработчиков; пусто — без лимита',
    'account.dailyLimit': 'до {amount} в день', 'account.changeLimit': 'Лимит в день', 'account.saveLimit': 'Сохранить лимит',
    'developers.title': 'API для разработчиков', 'developers.balance': 'Баланс: доступно {available}, {held} удержано идущими запросами.',
    'developers.amount': 'Пополнить на (USD)', 'developers.topUp': 'Пополнить', 'developers.usage': 'Расход с {from} по {to} (UTC)',
    'developers.totals': 'запросов: {requests}, токенов: {tokens}, {cost}.', 'developers.csv': 'Скачать расход по дням, ключам и моделям (CSV)',
    'teams.title': 'Команды', 'teams.about': 'У команды общий баланс, расход и API-ключи; роль участника определяет, что ему можно.',
    'teams.new': 'Новая команда', 'teams.name': 'Название', 'teams.create': 'Создать команду', 'teams.yourRole': 'ваша роль: {role}', 'teams.you': 'вы',
    'teams.members': 'Участники', 'teams.role': 'Роль', 'teams.remove': 'Исключить', 'teams.leave': 'Выйти',
    'teams.invitations': 'Приглашения', 'teams.invite': 'Пригласить', 'teams.keys': 'API-ключи команды',
    'teams.linkOnce': 'Отправьте эту ссылку на {email}: она действует один раз, 7 дней, и больше не будет показана.',
    'teams.invited': 'Вас пригласили в команду.', 'teams.join': 'Вступить в команду', 'teams.joined': 'Вы вступили в {name} как {role}.',
    'role.owner': 'владелец', 'role.admin': 'администратор', 'role.billing': 'бухгалтерия', 'role.member': 'участник',
    'bell.label': 'новых уведомлений: {count}', 'bell.empty': 'Ничего нового.', 'bell.open': 'открыть',
    'event.generation.succeeded': 'Генерация готова', 'event.generation.failed': 'Генерация не удалась',
    'event.generation.canceled': 'Генерация отменена', 'event.subscription.changed': 'Подписка изменилась',
    'event.session.revoked': 'Сеанс завершён', 'event.document.shared': 'С вами поделились документом',
    'event.document.updated': 'Ваш общий документ изменён',
  },
};

export const languages = Object.keys(words);
const storedKey = 'skillup.language';

export function language() {
  const stored = localStorage.getItem(storedKey);
  if (stored && words[stored]) return stored;
  return (navigator.language || 'en').toLowerCase().startsWith('ru') ? 'ru' : 'en';
}

export function setLanguage(code) {
  localStorage.setItem(storedKey, code);
  document.documentElement.lang = code;
}

/** The words for `key` in the current language, with `{name}` filled from `values`. */
export function t(key, values = {}) {
  const text = words[language()][key] ?? words.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}
