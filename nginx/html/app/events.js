// The user's live events (`/api/events`), one EventSource for the whole app. It resumes from the
// last id it saw; when the stream ends because the access token expired (or the browser's own
// reconnect is refused), it refreshes the sign-in and opens a new one from that id. Pages listen
// by event type; `isLive()` tells them whether to poll instead.

import { refresh } from './api.js';

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

const types = ['generation.progress', 'generation.succeeded', 'generation.failed', 'generation.canceled', 'subscription.changed', 'session.revoked'];

export function startEvents() {
  stopped = false;
  open();
}

export function stopEvents() {
  stopped = true;
  live = false;
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
    source.close();
    live = false;
    emit('live', false);
    if (reason === 'session_revoked' || reason === 'account_blocked') {
      emit('signedOut', reason);
      return;
    }
    reopen(reason === 'token_expired');
  });
  source.addEventListener('error', () => {
    live = false;
    emit('live', false);
    // A refused reconnect (401 after the access token expired) leaves the source closed.
    if (source.readyState === EventSource.CLOSED) reopen(true);
  });
}

function reopen(refreshFirst) {
  if (stopped) return;
  const delay = retryDelay;
  retryDelay = Math.min(retryDelay * 2, 30000);
  setTimeout(async () => {
    if (refreshFirst) {
      try {
        await refresh();
      } catch {
        emit('signedOut', 'refresh_refused');
        return;
      }
    }
    open();
  }, delay);
}
