// The notifications bell: how many of the user's events came since they last looked, and the
// newest of them when opened (which marks them seen). The count starts from the kept history after
// the last id seen by this user on this browser, and grows with each live event.

import { api } from './api.js';
import { h, fill, when } from './dom.js';
import { t, language } from './i18n.js';
import { onEvent } from './events.js';

const shown = ['generation.succeeded', 'generation.failed', 'generation.canceled', 'subscription.changed', 'session.revoked', 'document.shared',
  'document.updated'];

/** The bell's element, and `dispose()` to let go of its event listeners (at sign-out). */
export function bell(app) {
  const seenKey = `skillup.notifications.seen.${app.me.user_id}`;
  const count = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  const label = h('span', { class: 'visually-hidden' });
  const panel = h('div', { class: 'panel', hidden: true, id: 'notifications-panel' });
  const button = h('button', { type: 'button', class: 'bell', 'aria-expanded': 'false', 'aria-controls': 'notifications-panel' }, bellIcon(), label, count);
  let unseen = [];
  let newest = null;

  const showCount = () => {
    count.hidden = unseen.length === 0;
    count.textContent = unseen.length > 99 ? '99+' : String(unseen.length);
    label.textContent = t('bell.label', { count: unseen.length });
  };
  /** Every kept event after the last one seen, page after page; a reset starts from the newest. */
  const load = async () => {
    let after = localStorage.getItem(seenKey);
    const events = [];
    for (let pages = 0; pages < 20; pages += 1) {
      const page = await api.get(`/api/notifications${after ? `?after=${encodeURIComponent(after)}` : ''}`);
      if (page.reset) {
        events.length = 0;
      } else {
        events.push(...page.events.filter((event) => shown.includes(event.type)));
      }
      newest = page.next ?? newest;
      if (page.reset || page.events.length === 0 || page.next === after) break;
      after = page.next;
    }
    unseen = events;
    showCount();
  };
  const close = () => {
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };
  const open = async () => {
    if (!panel.hidden) return close();
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    fill(panel, h('p', { class: 'loading' }, t('loading')));
    try {
      await load();
      const recent = unseen.slice(-10).reverse();
      fill(panel, recent.length
        ? h('ul', {}, recent.map((event) => h('li', {}, h('span', {}, t(`event.${event.type}`)),
          event.data.task_id ? [' ', h('a', { href: `/history/${event.data.task_id}`, 'data-link': true, onclick: close }, t('bell.open'))] : null,
          h('span', { class: 'meta' }, when(event.time, language())))))
        : h('p', {}, t('bell.empty')));
      if (newest) {
        localStorage.setItem(seenKey, newest);
        await api.post('/api/notifications/read', { up_to: newest }).catch(() => {});
      }
      unseen = [];
      showCount();
    } catch (failure) {
      fill(panel, h('p', { class: 'alert', role: 'alert' }, failure.message));
    }
  };
  button.addEventListener('click', open);
  const element = h('div', { class: 'notifications' }, button, panel);
  element.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden) {
      close();
      button.focus();
    }
  });
  const listeners = [
    ...shown.map((type) => onEvent(type, (event) => {
      unseen.push({ ...event, data: event.data ?? {} });
      showCount();
    })),
    onEvent('reset', () => load().catch(() => {})),
  ];
  showCount();
  load().catch(() => {});
  return {
    element,
    dispose() {
      for (const off of listeners) off();
    },
  };
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
