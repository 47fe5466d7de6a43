// Sign in and sign up. Signing in asks for cookie mode: the tokens stay in HttpOnly cookies the
// page never sees, and the CSRF cookie's value goes with every write.

import { api, signIn } from '../api.js';
import { h, field, alertBox, onSubmit, showError } from '../dom.js';
import { t } from '../i18n.js';

function credentialsForm(app, { title, submitLabel, newPassword, onSubmit: onSubmitCredentials, footer }) {
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const password = h('input', { type: 'password', name: 'password', autocomplete: newPassword ? 'new-password' : 'current-password', required: true, minlength: newPassword ? 10 : undefined });
  const error = alertBox();
  if (app.telegramRefusal) showError(error, app.telegramRefusal, t);
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const form = h('form', {
    class: 'card narrow',
    onsubmit: onSubmit({ submit, error, t, failed: (failure) => (failure.body?.field === 'password' ? password : email).focus() }, async () => {
      await onSubmitCredentials(email.value.trim(), password.value);
      await app.signedIn();
    }),
  },
  h('h1', {}, title),
  field(t('auth.email'), email),
  field(t('auth.password'), password),
  newPassword ? h('p', { class: 'hint' }, t('auth.passwordHint')) : null,
  error,
  submit,
  footer);
  return form;
}

export function signInPage(app) {
  return credentialsForm(app, {
    title: t('auth.signInTitle'),
    submitLabel: t('auth.signIn'),
    onSubmit: (email, password) => signIn(email, password),
    footer: h('p', {}, t('auth.noAccount'), ' ', h('a', { href: '/signup', 'data-link': true }, t('auth.signUp'))),
  });
}

export function signUpPage(app) {
  return credentialsForm(app, {
    title: t('auth.signUpTitle'),
    submitLabel: t('auth.signUp'),
    newPassword: true,
    onSubmit: async (email, password) => {
      await api.post('/auth/register', { email, password });
      await signIn(email, password);
    },
    footer: h('p', {}, t('auth.haveAccount'), ' ', h('a', { href: '/signin', 'data-link': true }, t('auth.signIn'))),
  });
}
