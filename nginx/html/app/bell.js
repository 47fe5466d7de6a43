// The notifications bell: how many of the user's events came since they last looked, and the
// recent ones when opened (which marks them seen). The count starts from the kept history after
// the last id seen on this browser, and grows with each live event.

import { api } from './api.js';
import { h, fill, when } from './dom.js';
import { t, language } from './i18n.js';
import { onEvent } from './events.js';

const seenKey = 'skillup.notifications.seen';
const shown = ['generation.succeeded', 'generation.failed', 'generation.canceled', 'subscription.changed', 'session.revoked'];

export function bell(app) {
  const count = h('span', { class: 'badge', hidden: true });
  const label = h('span', { class: 'visually-hidden' });
  const panel = h('div', { class: 'panel', hidden: true, id: 'notifications-panel' });
  const button = h('button', { type: 'button', class: 'bell', 'aria-expanded': 'false', 'aria-controls': 'notifications-panel' }, bellIcon(), label, count);
  let unseen = 0;
  let newest = localStorage.getItem(seenKey);

  const showCount = () => {
    count.hidden = unseen === 0;
    count.textContent = unseen > 99 ? '99+' : String(unseen);
    label.textContent = t('bell.label', { count: unseen });
  };
  const load = async () => {
    const seen = localStorage.getItem(seenKey);
    const page = await api.get(`/api/notifications${seen ? `?after=${encodeURIComponent(seen)}` : ''}`);
    const events = page.events.filter((event) => shown.includes(event.type));
    unseen = page.reset ? 0 : events.length;
    if (page.next) newest = page.next;
    showCount();
    return events;
  };
  const open = async () => {
    const opening = panel.hidden;
    panel.hidden = !opening;
    button.setAttribute('aria-expanded', String(opening));
    if (!opening) return;
    fill(panel, h('p', { class: 'loading' }, t('loading')));
    try {
      const recent = (await api.get('/api/notifications')).events.filter((event) => shown.includes(event.type)).slice(-10).reverse();
      fill(panel, recent.length
        ? h('ul', {}, recent.map((event) => h('li', {}, h('span', {}, t(`event.${event.type}`)),
          event.data.task_id ? [' ', h('a', { href: `/history/${event.data.task_id}`, 'data-link': true }, t('bell.open'))] : null,
          h('span', { class: 'meta' }, when(event.time, language())))))
        : h('p', {}, t('bell.empty')));
      const last = recent[0]?.id ?? newest;
      if (last) {
        localStorage.setItem(seenKey, last);
        await api.post('/api/notifications/read', { up_to: last }).catch(() => {});
      }
      unseen = 0;
      showCount();
    } catch (failure) {
      fill(panel, h('p', { class: 'alert', role: 'alert' }, failure.message));
    }
  };
  showCount();
  button.addEventListener('click', open);
  for (const type of shown) {
    onEvent(type, () => {
      unseen += 1;
      showCount();
    });
  }
  onEvent('reset', () => load().catch(() => {}));
  load().catch(() => showCount());
  return h('div', { class: 'notifications' }, button, panel);
}

/** A bell drawn in SVG: no emoji font is needed. */
function bellIcon() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '20');
  svg.setAttribute('height', '20');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
  path.setAttribute('d', 'M12 2a6 6 0 0 0-6 6v3.6L4.3 15a1 1 0 0 0 .9 1.5h13.6a1 1 0 0 0 .9-1.5L18 11.6V8a6 6 0 0 0-6-6zm0 20a2.5 2.5 0 0 0 2.4-2h-4.8a2.5 2.5 0 0 0 2.4 2z');
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}
