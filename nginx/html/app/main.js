// The app's shell: the header (navigation, notifications, language, sign-out), the page for the
// current path (the History API; nginx answers every app path with index.html), and the session:
// a page that needs one sends a signed-out visitor to the sign-in page.

import { api, onSignedOut, resumeRefreshing, signInWithTelegram, stopRefreshing, ApiError } from './api.js';
import { h, fill } from './dom.js';
import { t, language, setLanguage, languages } from './i18n.js';
import { startEvents, stopEvents, onEvent } from './events.js';
import { bell } from './bell.js';
import { signInPage, signUpPage } from './pages/auth.js';
import { generatePage } from './pages/generate.js';
import { historyPage, resultPage } from './pages/history.js';
import { plansPage } from './pages/plans.js';
import { accountPage } from './pages/account.js';

const main = document.getElementById('main');
const header = document.getElementById('top');

/** Who is signed in (`/auth/me`), or null. */
let me = null;
/** Why a Mini App sign-in was refused (an ApiError), for the sign-in page; null when none was. */
let telegramRefusal = null;
/** The bell of this session: made once, kept across the header's redraws. */
let bellView = null;
/** Which render is the newest: a slower page that finishes later is not shown over it. */
let renderCount = 0;

const routes = [
  { path: /^\/signin$/, page: signInPage, public: true },
  { path: /^\/signup$/, page: signUpPage, public: true },
  { path: /^\/generate$/, page: generatePage },
  { path: /^\/history$/, page: historyPage },
  { path: /^\/history\/([0-9a-f-]{36})$/, page: resultPage },
  { path: /^\/plans$/, page: plansPage },
  { path: /^\/account$/, page: accountPage },
];

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

/** What a page gets: the signed-in user, navigation, and the app's session hooks. */
const app = {
  get me() {
    return me;
  },
  get telegramRefusal() {
    return telegramRefusal;
  },
  navigate,
  async signedIn() {
    me = await api.get('/auth/me');
    startEvents();
    renderHeader();
    navigate('/generate', { replace: true });
  },
  signedOut,
};

function signedOut() {
  me = null;
  bellView?.dispose();
  bellView = null;
  stopEvents();
  stopRefreshing();
  renderHeader();
  navigate('/signin', { replace: true });
}

async function render() {
  const count = ++renderCount;
  const path = location.pathname;
  if (path === '/') {
    navigate(me ? '/generate' : '/signin', { replace: true });
    return;
  }
  const route = routes.find((candidate) => candidate.path.test(path));
  if (!route) {
    fill(main, h('h1', {}, t('notFound.title')), h('p', {}, h('a', { href: '/generate', 'data-link': true }, t('notFound.back'))));
    return;
  }
  if (!route.public && !me) {
    navigate('/signin', { replace: true });
    return;
  }
  if (route.public && me && path !== '/signup') {
    navigate('/generate', { replace: true });
    return;
  }
  const match = path.match(route.path);
  for (const link of header.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === path) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  fill(main, h('p', { class: 'loading' }, t('loading')));
  let content;
  try {
    content = await route.page(app, ...match.slice(1));
  } catch (error) {
    content = h('p', { class: 'alert', role: 'alert' }, error instanceof ApiError || error.message ? error.message : t('error.unknown'));
  }
  if (count !== renderCount) return;
  fill(main, content);
  window.scrollTo(0, 0);
  document.title = `${main.querySelector('h1')?.textContent ?? ''} · SkillUp`;
  main.focus({ preventScroll: true });
}

function renderHeader() {
  const languageSwitch = h('select', {
    'aria-label': t('nav.language'),
    onchange: (event) => {
      setLanguage(event.target.value);
      renderHeader();
      render();
    },
  }, languages.map((code) => h('option', { value: code, selected: code === language() }, code.toUpperCase())));
  const links = me
    ? [['/generate', t('nav.generate')], ['/history', t('nav.history')], ['/plans', t('nav.plans')], ['/account', t('nav.account')]]
    : [['/signin', t('nav.signIn')], ['/signup', t('nav.signUp')]];
  fill(header,
    h('a', { class: 'brand', href: me ? '/generate' : '/signin', 'data-link': true }, 'SkillUp'),
    h('nav', { 'aria-label': t('nav.label') }, links.map(([href, label]) => h('a', { href, 'data-link': true }, label))),
    h('div', { class: 'tools' },
      me ? (bellView ??= bell(app)).element : null,
      languageSwitch,
      me ? h('button', { type: 'button', class: 'link', onclick: signOut }, t('nav.signOut')) : null));
}

async function signOut() {
  try {
    await api.post('/auth/logout');
  } catch {
    // Signed out already, or the session is gone: either way the page signs out.
  }
  signedOut();
}

// Links inside the app move without reloading the page.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-link]');
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', render);
// Only a session that was there can be lost (a visitor who never signed in is on the sign-in page).
onSignedOut(() => {
  if (me) signedOut();
});
onEvent('signedOut', signedOut);

/**
 * Opened as a Telegram Mini App, the page's fragment carries Telegram's signed initData
 * (`tgWebAppData`): it signs in to the account of that Telegram user. A refusal shows on the
 * sign-in page.
 */
async function signInFromTelegram() {
  const initData = new URLSearchParams(location.hash.slice(1)).get('tgWebAppData');
  if (!initData) return;
  history.replaceState(null, '', location.pathname + location.search);
  try {
    await signInWithTelegram(initData);
  } catch (error) {
    telegramRefusal = error;
  }
}

async function start() {
  document.documentElement.lang = language();
  await signInFromTelegram();
  try {
    // A browser whose access cookie expired with the tab closed is refreshed on the way.
    me = await api.get('/auth/me');
  } catch {
    me = null;
  }
  if (me) {
    startEvents();
    resumeRefreshing();
  }
  renderHeader();
  render();
}

start();
