// Plans and the user's subscription: what is used today and in the period, what remains and when
// it resets; a dearer plan through the checkout (the test checkout in the local stack), a cheaper
// one from the period's end, cancel and resume.

import { api } from '../api.js';
import { h, fill, alertBox, showError, clearError, when } from '../dom.js';
import { t, language } from '../i18n.js';
import { onEvent } from '../events.js';

function money(cents, currency) {
  return new Intl.NumberFormat(language(), { style: 'currency', currency: currency || 'USD' }).format(cents / 100);
}

function usageBar(label, usage) {
  return h('div', { class: 'usage' },
    h('div', { class: 'usage-label' }, h('span', {}, label), h('span', {}, t('plans.used', { used: usage.used, limit: usage.limit }))),
    h('progress', { max: usage.limit, value: Math.min(usage.used, usage.limit), 'aria-label': label }),
    h('span', { class: 'hint' }, t('plans.remaining', { count: usage.remaining, when: when(usage.resets_at, language()) })));
}

export async function plansPage(app) {
  const [{ plans }, subscription] = await Promise.all([api.get('/api/plans'), api.get('/api/subscription')]);
  const error = alertBox();
  const page = h('div', {});
  const current = subscription.plan?.code;

  const choose = async (plan, button) => {
    clearError(error);
    button.disabled = true;
    try {
      let answer;
      try {
        answer = await api.post('/api/subscription/change', { plan });
      } catch (failure) {
        // No subscription to change yet: a new one starts at the checkout.
        if (failure.code !== 'no_live_subscription') throw failure;
        answer = await api.post('/api/billing/checkout', { plan });
      }
      if (answer.checkout_url) {
        location.assign(answer.checkout_url);
        return;
      }
      app.navigate('/plans', { replace: true });
    } catch (failure) {
      button.disabled = false;
      showError(error, failure, t);
    }
  };
  const act = async (path, button) => {
    clearError(error);
    button.disabled = true;
    try {
      await api.post(path);
      app.navigate('/plans', { replace: true });
    } catch (failure) {
      button.disabled = false;
      showError(error, failure, t);
    }
  };

  const cards = plans.map((plan) => {
    const button = h('button', { type: 'button', class: plan.code === current ? '' : 'primary', disabled: plan.code === current }, plan.code === current ? t('plans.current') : t('plans.choose'));
    button.addEventListener('click', () => choose(plan.code, button));
    return h('li', { class: `plan${plan.code === current ? ' current' : ''}` },
      h('h3', {}, plan.title),
      h('p', { class: 'price' }, t('plans.perMonth', { price: money(plan.price_cents, plan.currency) })),
      h('ul', {},
        h('li', {}, t('plans.perDay', { count: plan.generations_per_day })),
        h('li', {}, t('plans.perPeriod', { count: plan.generations_per_month })),
        h('li', {}, t('plans.maxTokens', { count: plan.max_output_tokens })),
        h('li', {}, plan.features.includes('generate.long') ? t('plans.long') : t('plans.shortOnly'))),
      button);
  });

  const manage = [];
  if (subscription.status === 'active' || subscription.status === 'trial') {
    const button = h('button', { type: 'button' }, subscription.cancel_at_period_end ? t('plans.resume') : t('plans.cancel'));
    button.addEventListener('click', () => act(subscription.cancel_at_period_end ? '/api/subscription/resume' : '/api/subscription/cancel', button));
    manage.push(button);
  }
  fill(page,
    h('h1', {}, t('plans.title')),
    h('section', { class: 'card' },
      h('h2', {}, t('plans.yours', { plan: subscription.plan?.title ?? '—' })),
      h('p', {}, t(`subscription.${subscription.status}`, {}), subscription.period?.end ? ` · ${t('plans.periodEnds', { when: when(subscription.period.end, language()) })}` : '',
        subscription.next ? ` · ${t('plans.next', { plan: subscription.next.plan, when: when(subscription.next.from, language()) })}` : ''),
      usageBar(t('plans.today'), subscription.usage.today),
      usageBar(t('plans.period'), subscription.usage.period),
      manage),
    error,
    h('ul', { class: 'plans' }, cards));
  // A payment or a change elsewhere shows here without a reload.
  const off = onEvent('subscription.changed', () => {
    off();
    if (page.isConnected) app.navigate('/plans', { replace: true });
  });
  return page;
}
