// The generator: a function, a topic and options. A short function's answer is streamed into the
// page piece by piece; a long one becomes a task shown queued, running and done as its events come
// (polling its status while the live events are not there), with a cancel button.

import { api, streamGeneration } from '../api.js';
import { h, fill, field, alertBox, showError, onSubmit } from '../dom.js';
import { t, language } from '../i18n.js';
import { onEvent, isLive } from '../events.js';

export const functions = ['summary', 'explain', 'quiz', 'title', 'lesson_plan', 'scenario'];
const queued = new Set(['lesson_plan', 'scenario']);

export function generatePage(app) {
  const fn = h('select', { name: 'function' }, functions.map((name) => h('option', { value: name }, t(`fn.${name}`))));
  const topic = h('textarea', { name: 'topic', rows: 4, required: true, minlength: 3, maxlength: 2000 });
  const lang = h('select', { name: 'language' }, ['ru', 'en'].map((code) => h('option', { value: code, selected: code === language() }, t(`lang.${code}`))));
  const maxTokens = h('input', { type: 'number', name: 'max_tokens', min: 16, max: 4096, inputmode: 'numeric' });
  const error = alertBox();
  const submit = h('button', { type: 'submit', class: 'primary' }, t('gen.submit'));
  const result = h('section', { class: 'result' });
  const form = h('form', {
    class: 'card',
    onsubmit: onSubmit({ submit, error, t }, async () => {
      const body = { function: fn.value, topic: topic.value.trim(), options: { language: lang.value } };
      if (maxTokens.value) body.options.max_tokens = Number(maxTokens.value);
      if (queued.has(fn.value)) await runTask(app, body, result);
      else await runStreamed(body, result);
    }),
  },
  field(t('gen.function'), fn),
  field(t('gen.topic'), topic),
  h('div', { class: 'row' }, field(t('gen.language'), lang), field(t('gen.maxTokens'), maxTokens, t('gen.maxTokensHint'))),
  error,
  submit);
  return [h('h1', {}, t('gen.title')), form, result];
}

async function runStreamed(body, result) {
  // The status line is read out when it changes; the text, busy while it grows, is not read piece by piece.
  const text = h('div', { class: 'text', 'data-state': 'streaming', 'aria-busy': 'true' });
  const status = h('p', { class: 'status', role: 'status' }, t('gen.writing'));
  fill(result, h('h2', {}, t(`fn.${body.function}`)), status, text);
  let done;
  try {
    done = await streamGeneration(body, null, (piece) => text.append(piece));
  } catch (failure) {
    text.dataset.state = 'failed';
    text.setAttribute('aria-busy', 'false');
    fill(status);
    throw failure;
  }
  text.dataset.state = 'done';
  text.setAttribute('aria-busy', 'false');
  // A cached or non-streamed answer comes whole.
  if (done.text && !text.textContent) text.textContent = done.text;
  fill(status, t('gen.done'), done.truncated ? ` · ${t('gen.truncated')}` : '', done.quota ? ` · ${t('gen.remaining', { count: done.quota.remaining })}` : '',
    ' · ', h('a', { href: `/history/${done.id}`, 'data-link': true }, t('gen.open')));
}

async function runTask(app, body, result) {
  const accepted = await api.post('/api/generate', body, { 'Idempotency-Key': crypto.randomUUID() });
  fill(result, taskView(app, accepted.task_id, t(`fn.${body.function}`)));
}

/** A queued task's card: its status as its events come (or as polling finds it), its text once done. */
export function taskView(app, id, title) {
  const status = h('p', { class: 'status', role: 'status', 'data-status': 'queued' }, t('status.queued'));
  const text = h('div', { class: 'text' });
  const cancel = h('button', {
    type: 'button',
    onclick: async () => {
      cancel.disabled = true;
      try {
        await api.delete(`/api/generate/${id}`);
      } catch (failure) {
        showError(error, failure, t);
      }
      refreshStatus();
    },
  }, t('gen.cancel'));
  const error = alertBox();
  const view = h('div', { class: 'task' }, h('h2', {}, title), status, cancel, error, text,
    h('p', {}, h('a', { href: `/history/${id}`, 'data-link': true }, t('gen.open'))));
  let finished = false;
  const show = (generation) => {
    status.dataset.status = generation.status;
    fill(status, t(`status.${generation.status}`), generation.failure ? ` · ${generation.failure}` : '');
    if (['succeeded', 'failed', 'canceled'].includes(generation.status)) {
      finished = true;
      cancel.hidden = true;
      if (generation.text) text.textContent = generation.text;
      if (generation.truncated) status.append(` · ${t('gen.truncated')}`);
      stop();
    }
  };
  const refreshStatus = async () => {
    try {
      show(await api.get(`/api/generate/${id}`));
    } catch (failure) {
      showError(error, failure, t);
    }
  };
  const mine = (handler) => (event) => {
    if (event.data?.task_id === id) handler(event);
  };
  const unsubscribe = [
    onEvent('generation.progress', mine((event) => show({ status: event.data.status }))),
    ...['generation.succeeded', 'generation.failed', 'generation.canceled'].map((type) => onEvent(type, mine(refreshStatus))),
    // Events may have been missed: while the stream was down, or when it started again afresh.
    onEvent('reset', () => refreshStatus()),
    onEvent('live', (isUp) => isUp && !finished && refreshStatus()),
  ];
  // While the live events are down, the status is polled.
  const poll = setInterval(() => {
    if (!view.isConnected) stop();
    else if (!isLive() && !finished) refreshStatus();
  }, 3000);
  function stop() {
    clearInterval(poll);
    for (const off of unsubscribe) off();
  }
  refreshStatus();
  return view;
}
