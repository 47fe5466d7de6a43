// The account: sessions (sign out one, or everywhere), the linked Telegram account, the password,
// API keys for bots and scripts (created with scopes, an expiry and a daily spending limit, the key
// shown once with a copy button; listed; revoked), and the developers' API: the prepaid balance,
// a top-up through checkout, and the last 30 days' usage with its CSV; and the teams (teams.js).

import { api } from '../api.js';
import { h, fill, field, alertBox, showError, onSubmit, when } from '../dom.js';
import { t, language } from '../i18n.js';
import { teamsSection } from './teams.js';

const keyScopes = ['generate', 'subscription:read', 'subscription:manage', 'profile', 'inference', 'usage:read', 'balance:manage'];

export async function accountPage(app) {
  const [sessions, keyList] = await Promise.all([api.get('/auth/sessions'), api.get('/auth/api-keys')]);
  const keys = keysSection(keyList.api_keys);
  return [
    h('h1', {}, t('account.title')),
    h('p', {}, app.me.email ?? t('account.telegramOnly')),
    sessionsSection(app, sessions),
    app.me.telegram ? telegramSection(app) : null,
    // API keys are made with the password, which an account Telegram made does not have.
    app.me.email ? keys.section : null,
    app.me.email ? await developersSection() : null,
    app.me.email ? await teamsSection(app.me, { dollars, developersSection }) : null,
    app.me.email ? passwordSection(keys.reload) : null,
  ];
}

/** Micro-units of USD (integers, as the API counts money) as dollars, to the cent or finer. */
function dollars(micros) {
  const cents = micros % 10000 === 0;
  return `$${(micros / 1e6).toFixed(cents ? 2 : 6)}`;
}

/**
 * The developers' API: the balance /v1 spends, a top-up, and the last 30 days' usage; the user's
 * own, or a team's (`team`, read and topped up as its member with X-Team, as its role allows).
 */
async function developersSection(team) {
  const error = alertBox();
  const headers = team ? { 'X-Team': team.id } : undefined;
  const title = h(team ? 'h3' : 'h2', {}, t('developers.title'));
  let balance, usage;
  try {
    [balance, usage] = await Promise.all([api.get('/api/billing/balance', headers), api.get('/api/billing/usage', headers)]);
  } catch (failure) {
    // The rest of the page stands: this card says what went wrong (an account without the
    // usage:read scope, say, or billing out of reach).
    showError(error, failure, t);
    return h('section', { class: 'card developers' }, title, error);
  }
  const amount = h('input', { type: 'number', name: 'top_up_usd', min: 1, max: 10000, step: 1, value: 10, required: true });
  const submit = h('button', { type: 'submit' }, t('developers.topUp'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const answer = await api.post('/api/billing/top-up', { amount_cents: Math.round(Number(amount.value) * 100) }, headers);
      location.assign(answer.checkout_url);
    }),
  }, field(t('developers.amount'), amount), error, submit);
  const { totals } = usage;
  // A team's owner and billing role top it up; its CSV is the API's (a link cannot send X-Team).
  const tops = !team || team.scopes.includes('balance:manage');
  return h('section', { class: team ? 'developers' : 'card developers' },
    title,
    h('p', { class: 'balance' }, t('developers.balance', { available: dollars(balance.available_micros), held: dollars(balance.reserved_micros) })),
    tops ? form : null,
    h(team ? 'h4' : 'h3', {}, t('developers.usage', { from: usage.from, to: usage.to })),
    h('p', { class: 'usage' }, t('developers.totals', {
      requests: totals.requests, tokens: totals.input_tokens + totals.output_tokens, cost: dollars(totals.cost_micros),
    })),
    team ? null : h('a', { href: `/api/billing/usage?format=csv&from=${usage.from}&to=${usage.to}`, download: '' }, t('developers.csv')));
}

function sessionsSection(app, { current, sessions }) {
  const error = alertBox();
  const everywhere = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      everywhere.disabled = true;
      try {
        await api.post('/auth/logout-all');
        app.signedOut();
      } catch (failure) {
        everywhere.disabled = false;
        showError(error, failure, t);
      }
    },
  }, t('account.signOutEverywhere'));
  const rows = sessions.map((session) => {
    const button = h('button', { type: 'button' }, t('account.signOutThis'));
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        // This browser's own session signs out properly (its cookies cleared); another is revoked.
        if (session.id === current) {
          await api.post('/auth/logout');
          app.signedOut();
        } else {
          await api.delete(`/auth/sessions/${session.id}`);
          row.remove();
        }
      } catch (failure) {
        button.disabled = false;
        showError(error, failure, t);
      }
    });
    const row = h('li', {},
      h('span', {}, session.user_agent ?? t('account.unknownDevice'), session.id === current ? h('strong', {}, ` · ${t('account.thisSession')}`) : ''),
      h('span', { class: 'meta' }, t('account.lastUsed', { when: when(session.last_used_at ?? session.created_at, language()) })),
      button);
    return row;
  });
  return h('section', { class: 'card' }, h('h2', {}, t('account.sessions')), h('ul', { class: 'rows' }, rows), error, everywhere);
}

/** The linked Telegram account, with unlinking (refused for an account Telegram made). */
function telegramSection(app) {
  const { telegram } = app.me;
  const error = alertBox();
  const unlink = h('button', {
    type: 'button',
    onclick: async () => {
      unlink.disabled = true;
      try {
        await api.delete('/auth/telegram/link');
        section.remove();
      } catch (failure) {
        unlink.disabled = false;
        showError(error, failure, t);
      }
    },
  }, t('account.unlinkTelegram'));
  const section = h('section', { class: 'card' },
    h('h2', {}, 'Telegram'),
    h('p', {}, t('account.telegramLinked', { name: telegram.username ? `@${telegram.username}` : String(telegram.id) })),
    error,
    unlink);
  return section;
}

/** The API keys' section, and `reload()` to list them again. */
function keysSection(keys) {
  const list = h('ul', { class: 'rows' });
  const error = alertBox();
  const shown = h('div', { class: 'once', hidden: true, role: 'status' });
  const row = (key) => {
    const revoke = h('button', { type: 'button' }, t('account.revoke'));
    const change = limitForm(key, error, () => reload());
    const item = h('li', {},
      h('span', {}, key.name, ' ', h('code', {}, `${key.prefix}…`)),
      h('span', { class: 'meta' }, key.scopes.join(' '), ' · ', key.expires_at ? t('account.expires', { when: when(key.expires_at, language()) }) : t('account.noExpiry'),
        key.daily_limit_micros ? ` · ${t('account.dailyLimit', { amount: dollars(key.daily_limit_micros) })}` : ''),
      revoke,
      change.toggle,
      change.form);
    revoke.addEventListener('click', async () => {
      revoke.disabled = true;
      try {
        await api.delete(`/auth/api-keys/${key.id}`);
        item.remove();
      } catch (failure) {
        revoke.disabled = false;
        showError(error, failure, t);
      }
    });
    return item;
  };
  for (const key of keys) list.append(row(key));
  const reload = async () => fill(list, (await api.get('/auth/api-keys')).api_keys.map(row));

  const name = h('input', { name: 'key_name', required: true, maxlength: 100 });
  const days = h('input', { type: 'number', name: 'key_days', min: 1, max: 365, value: 90, required: true });
  const limit = h('input', { type: 'number', name: 'key_daily_limit', min: 0.01, max: 1000000, step: 0.01 });
  const password = h('input', { type: 'password', name: 'key_password', autocomplete: 'current-password', required: true });
  const scopes = keyScopes.map((scope) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: scope, checked: scope === 'generate' }), scope));
  const submit = h('button', { type: 'submit', class: 'primary' }, t('account.createKey'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const chosen = scopes.map((label) => label.querySelector('input')).filter((box) => box.checked).map((box) => box.value);
      const request = { name: name.value.trim(), scopes: chosen, expires_in: Number(days.value) * 86400, password: password.value };
      if (limit.value) request.daily_limit_micros = Math.round(Number(limit.value) * 1e6);
      const created = await api.post('/auth/api-keys', request);
      password.value = '';
      const copy = h('button', { type: 'button' }, t('result.copy'));
      const copied = h('span', { class: 'hint' });
      copy.addEventListener('click', async () => {
        await navigator.clipboard.writeText(created.key);
        copied.textContent = t('result.copied');
      });
      fill(shown, h('p', {}, t('account.keyOnce')), h('code', { class: 'key' }, created.key), ' ', copy, ' ', copied);
      shown.hidden = false;
      await reload();
    }),
  },
  h('div', { class: 'row' }, field(t('account.keyName'), name), field(t('account.keyDays'), days),
    field(t('account.keyDailyLimit'), limit, t('account.keyDailyLimitHint'))),
  h('fieldset', {}, h('legend', {}, t('account.scopes')), scopes),
  field(t('account.password'), password),
  submit);
  return { section: h('section', { class: 'card' }, h('h2', {}, t('account.apiKeys')), list, shown, error, h('h3', {}, t('account.newKey')), form), reload };
}

/** A key's daily limit, changed in place (with the password, as making a key takes it); `changed()` lists the keys again. */
function limitForm(key, error, changed) {
  const limit = h('input', {
    type: 'number', name: 'limit_usd', min: 0.01, max: 1000000, step: 0.01,
    value: key.daily_limit_micros ? key.daily_limit_micros / 1e6 : '',
  });
  const password = h('input', { type: 'password', name: 'limit_password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, t('account.saveLimit'));
  const form = h('form', {
    class: 'limit',
    hidden: true,
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const micros = limit.value ? Math.round(Number(limit.value) * 1e6) : null;
      await api.patch(`/auth/api-keys/${key.id}`, { daily_limit_micros: micros, password: password.value });
      password.value = '';
      await changed();
    }),
  }, field(t('account.keyDailyLimit'), limit, t('account.keyDailyLimitHint')), field(t('account.password'), password), submit);
  const toggle = h('button', { type: 'button', 'aria-expanded': 'false' }, t('account.changeLimit'));
  toggle.addEventListener('click', () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
  });
  return { toggle, form };
}

/** The password form; `changed()` runs after a change (the API keys were revoked with it). */
function passwordSection(changed) {
  const current = h('input', { type: 'password', name: 'current_password', autocomplete: 'current-password', required: true });
  const next = h('input', { type: 'password', name: 'new_password', autocomplete: 'new-password', required: true, minlength: 10 });
  const error = alertBox();
  const done = h('p', { class: 'hint', role: 'status' });
  const submit = h('button', { type: 'submit' }, t('account.changePassword'));
  const form = h('form', {
    onsubmit: onSubmit({ submit, error, t }, async () => {
      await api.post('/auth/password', { current_password: current.value, new_password: next.value });
      current.value = '';
      next.value = '';
      done.textContent = t('account.passwordChanged');
      await changed();
    }),
  }, field(t('account.currentPassword'), current), field(t('account.newPassword'), next), error, done, submit);
  return h('section', { class: 'card' }, h('h2', {}, t('account.password')), form);
}
