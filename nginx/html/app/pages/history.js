// The user's generations, newest first, a page at a time; and one generation's page with its text,
// a copy button, and (while it is under way) its live status.

import { api } from '../api.js';
import { h, alertBox, showError, when } from '../dom.js';
import { t, language } from '../i18n.js';
import { taskView } from './generate.js';

export async function historyPage() {
  const list = h('ul', { class: 'history' });
  const error = alertBox();
  const more = h('button', { type: 'button', hidden: true }, t('history.more'));
  let after = null;
  const load = async () => {
    more.disabled = true;
    try {
      const page = await api.get(`/api/generations?limit=20${after ? `&after=${encodeURIComponent(after)}` : ''}`);
      for (const generation of page.generations) list.append(item(generation));
      after = page.next ?? null;
      more.hidden = !after || page.generations.length === 0;
      if (!list.children.length) list.append(h('li', { class: 'empty' }, t('history.empty'), ' ', h('a', { href: '/generate', 'data-link': true }, t('history.start'))));
    } catch (failure) {
      showError(error, failure, t);
    }
    more.disabled = false;
  };
  more.addEventListener('click', load);
  await load();
  return [h('h1', {}, t('history.title')), error, list, more];
}

function item(generation) {
  return h('li', {},
    h('a', { href: `/history/${generation.id}`, 'data-link': true }, generation.topic),
    h('span', { class: 'meta' }, t(`fn.${generation.function}`), ' · ', h('span', { 'data-status': generation.status }, t(`status.${generation.status}`)), ' · ', when(generation.created_at, language())));
}

export async function resultPage(app, id) {
  const generation = await api.get(`/api/generations/${id}`);
  const header = [h('h1', {}, generation.topic), h('p', { class: 'meta' }, t(`fn.${generation.function}`), ' · ', when(generation.created_at, language()))];
  if (generation.status === 'queued' || generation.status === 'running') {
    return [...header, taskView(app, id, t(`status.${generation.status}`))];
  }
  const text = h('div', { class: 'text' }, generation.text ?? '');
  const copied = h('span', { class: 'hint', role: 'status' });
  const error = alertBox();
  const copy = h('button', {
    type: 'button',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(generation.text ?? '');
        copied.textContent = t('result.copied');
      } catch (failure) {
        showError(error, failure, t);
      }
    },
  }, t('result.copy'));
  return [...header,
    h('p', { class: 'status', 'data-status': generation.status }, t(`status.${generation.status}`), generation.failure ? ` · ${generation.failure}` : ''),
    generation.text ? h('div', { class: 'actions' }, copy, copied) : null,
    error,
    text,
    h('p', {}, h('a', { href: '/history', 'data-link': true }, t('history.back')))];
}
