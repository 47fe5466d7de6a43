// The user's live events (`/api/events`), one EventSource for the whole app. When the server ends
// a stream (its age, a restart) the browser reconnects by itself with `Last-Event-ID`, losing
// nothing; when the access token expired, the page refreshes the sign-in first. A reconnect the
// server refused (the browser gives up) is opened anew from the last id seen, or, with none, with a
// `reset` for the pages to reload what they show. Pages listen by event type; `isLive()` tells them
// whether to poll instead.

import { api, refresh, sessionGone } from './api.js';

const listeners = new Map();
let source = null;
let lastId = null;
let live = false;
let stopped = true;
let retryDelay = 1000;

export function onEvent(type, listener) {
  if (!listeners.has(type)) listeners.set(type, new Set());
  listeners.get(type).add(listener);
  return () => listeners.get(type).delete(listener);
}

export function isLive() {
  return live;
}

function emit(type, payload) {
  for (const listener of listeners.get(type) ?? []) listener(payload);
  for (const listener of listeners.get('*') ?? []) listener(type, payload);
}

const types = ['generation.progress', 'generation.succeeded', 'generation.failed', 'generation.canceled', 'subscription.changed', 'session.revoked',
  'document.shared', 'document.updated'];

export function startEvents() {
  stopped = false;
  open();
}

export function stopEvents() {
  stopped = true;
  live = false;
  lastId = null;
  source?.close();
  source = null;
}

function open() {
  if (stopped) return;
  source?.close();
  source = new EventSource(lastId ? `/api/events?after=${encodeURIComponent(lastId)}` : '/api/events');
  source.addEventListener('open', () => {
    live = true;
    retryDelay = 1000;
    emit('live', true);
  });
  const remember = (event) => {
    if (event.lastEventId) lastId = event.lastEventId;
  };
  source.addEventListener('message', remember);
  for (const type of types) {
    source.addEventListener(type, (event) => {
      remember(event);
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      emit(type, data);
    });
  }
  source.addEventListener('reset', (event) => {
    remember(event);
    emit('reset', null);
  });
  source.addEventListener('closed', (event) => {
    let reason = '';
    try {
      reason = JSON.parse(event.data).reason;
    } catch {
      reason = '';
    }
    live = false;
    emit('live', false);
    if (reason === 'session_revoked' || reason === 'account_blocked') {
      stopEvents();
      emit('signedOut', reason);
    } else if (reason === 'too_many_streams') {
      // Another tab took this one's place: the pages poll rather than take it back.
      source.close();
    } else if (reason === 'token_expired') {
      // The browser reconnects a second after the stream ends, with the fresh cookies by then.
      refresh().catch(() => {});
    }
  });
  source.addEventListener('error', () => {
    live = false;
    emit('live', false);
    // A refused reconnect (401 once the access token expired, a 5xx) leaves the source closed.
    if (source.readyState === EventSource.CLOSED) reopen();
  });
}

function reopen() {
  if (stopped) return;
  const delay = retryDelay;
  retryDelay = Math.min(retryDelay * 2, 30000);
  setTimeout(async () => {
    if (stopped) return;
    try {
      // Refreshes the sign-in only if the access token expired.
      await api.get('/auth/me');
    } catch (failure) {
      if (sessionGone(failure)) return;
    }
    if (!lastId) emit('reset', null);
    open();
  }, delay);
}
