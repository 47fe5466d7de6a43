// The API as the pages call it: JSON in and out, the sign-in cookies sent by the browser, the CSRF
// header on every write, one silent refresh on a 401 (and a timer that refreshes before the access
// token expires), and every refusal as an ApiError with the answer's code and message.

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error || `http_${status}`;
    this.body = body ?? {};
    this.retryAfter = retryAfter;
  }
}

const signedOutListeners = new Set();
/** Runs `listener` when the session is gone (a refresh refused): the app shows the sign-in page. */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)__Host-csrf=([^;]*)/);
  return match ? decodeURIComponent(match[1]) : '';
}

async function errorOf(response) {
  let body = null;
  if ((response.headers.get('Content-Type') ?? '').includes('application/json')) {
    body = await response.json().catch(() => null);
  }
  const retryAfter = Number(response.headers.get('Retry-After')) || undefined;
  return new ApiError(response.status, body ?? { error: `http_${response.status}`, message: response.statusText }, retryAfter);
}

function send(method, path, body, extraHeaders = {}) {
  const headers = { Accept: 'application/json', ...extraHeaders };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(path, init);
}

let refreshTimer = null;
let refreshing = null;
const expiryKey = 'skillup.access.expires';

/**
 * Refreshes before the access token's `expiresIn` seconds are over (at four fifths of them). The
 * expiry is kept for the other tabs and the next page load, which refresh on the same schedule.
 */
export function scheduleRefresh(expiresIn) {
  localStorage.setItem(expiryKey, String(Date.now() + expiresIn * 1000));
  resumeRefreshing();
}

/** The refresh timer from the kept expiry (a page load, or another tab's refresh). */
export function resumeRefreshing() {
  clearTimeout(refreshTimer);
  const expires = Number(localStorage.getItem(expiryKey));
  if (!expires) return;
  const left = expires - Date.now();
  refreshTimer = setTimeout(() => refresh().catch(() => {}), Math.max(0, left * 0.8));
}

// Another tab refreshed: this one's timer follows the new expiry.
window.addEventListener('storage', (event) => {
  if (event.key === expiryKey) resumeRefreshing();
});

/**
 * Trades the refresh cookie for new cookies; one at a time in this tab, and across tabs through a
 * Web Lock: a refresh token is good once, and presenting a spent one revokes the whole session. A
 * tab that waited while another refreshed finds new cookies (the CSRF value changed) and is done.
 */
export function refresh() {
  // The CSRF cookie lives as long as the refresh cookie: without it there is no session to refresh.
  if (!csrfToken()) return Promise.reject(new ApiError(401, { error: 'missing_refresh_token', message: '' }));
  const before = csrfToken();
  refreshing ??= navigator.locks
    .request('skillup-refresh', async () => {
      if (csrfToken() !== before) return null;
      const response = await send('POST', '/auth/refresh');
      if (!response.ok) throw await errorOf(response);
      const answer = await response.json();
      scheduleRefresh(answer.expires_in);
      return answer;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Whether a failed refresh means the session is gone (not an outage or a rate limit to wait out). */
export function sessionGone(error) {
  return error instanceof ApiError && (error.status === 400 || error.status === 401);
}

const expiredCodes = new Set(['missing_token', 'token_expired', 'invalid_token']);
const noRefreshPaths = ['/auth/login', '/auth/register', '/auth/refresh', '/auth/telegram'];

/**
 * `method path` with `body` as JSON; the answer's JSON (null for 204), or an ApiError. A 401 for an
 * expired access token is refreshed once and asked again; a refused refresh signs the app out.
 */
export async function request(method, path, body, headers) {
  const response = await fetchRefreshing(method, path, body, headers);
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

async function fetchRefreshing(method, path, body, headers) {
  let response = await send(method, path, body, headers);
  if (response.status === 401 && !noRefreshPaths.includes(path)) {
    const error = await errorOf(response.clone());
    if (expiredCodes.has(error.code)) {
      try {
        await refresh();
      } catch (refused) {
        if (sessionGone(refused)) for (const listener of signedOutListeners) listener();
        throw error;
      }
      response = await send(method, path, body, headers);
    }
  }
  return response;
}

export const api = {
  get: (path, headers) => request('GET', path, undefined, headers),
  post: (path, body, headers) => request('POST', path, body, headers),
  put: (path, body) => request('PUT', path, body),
  patch: (path, body) => request('PATCH', path, body),
  delete: (path) => request('DELETE', path),
};

/** Signs in with cookies (HttpOnly tokens, the CSRF cookie) and starts the refresh timer. */
export async function signIn(email, password) {
  const answer = await request('POST', '/auth/login', { email, password, cookies: true });
  scheduleRefresh(answer.expires_in);
  return answer;
}

/** Signs in with a Telegram Mini App's signed initData, as signIn does with a password. */
export async function signInWithTelegram(initData) {
  const answer = await request('POST', '/auth/telegram', { init_data: initData, cookies: true });
  scheduleRefresh(answer.expires_in);
  return answer;
}

export function stopRefreshing() {
  clearTimeout(refreshTimer);
  localStorage.removeItem(expiryKey);
}

/**
 * A generation streamed as it is written: `onText` gets each piece; answers the `done` event's data.
 * A refusal before the stream starts (quota, plan, rate limit) is thrown as its ApiError; an error
 * mid-stream as an ApiError with the stream's `error` code.
 */
export async function streamGeneration(body, onStart, onText) {
  const response = await fetchRefreshing('POST', '/api/generate', { ...body, stream: true }, { Accept: 'text/event-stream' });
  if (!response.ok) throw await errorOf(response);
  if (!(response.headers.get('Content-Type') ?? '').includes('text/event-stream')) return response.json();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = parseEvent(block);
      if (!event) continue;
      if (event.name === 'start') onStart?.(event.data);
      else if (event.name === 'text') onText(event.data.text);
      else if (event.name === 'done') return event.data;
      else if (event.name === 'error') throw new ApiError(502, event.data);
    }
  }
  throw new ApiError(502, { error: 'stream_ended', message: '' });
}

function parseEvent(block) {
  let name = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).trimStart();
  }
  if (!data) return null;
  try {
    return { name, data: JSON.parse(data) };
  } catch {
    return null;
  }
}
