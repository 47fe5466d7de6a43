// Building the page from elements, never from HTML text: every string a user or the API supplied
// becomes a text node, so nothing injected can run (the CSP forbids inline script as well).

/** An element: `h('button', {class: 'primary', onclick: f, disabled: true}, 'Save')`. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name in element && typeof value !== 'string') {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces what `element` holds. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** A labelled form field: the label, the input, and a hint under it when given. */
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('span', { class: 'hint' }, hint) : null);
}

/** A place for a form's or a page's error: read out by screen readers when it changes. */
export function alertBox() {
  return h('p', { class: 'alert', role: 'alert', hidden: true });
}

/** Shows `error` (an ApiError or any Error) in `box`, with a link when the answer names a page. */
export function showError(box, error, t) {
  box.hidden = false;
  const plansCodes = ['subscription_required', 'quota_exceeded', 'renewal_required', 'max_tokens_exceeded', 'too_many_tasks'];
  fill(box, error.message || t('error.unknown'),
    plansCodes.includes(error.code) ? [' ', h('a', { href: '/plans', 'data-link': true }, t('error.seePlans'))] : null);
}

export function clearError(box) {
  box.hidden = true;
  fill(box);
}

/**
 * A form's submit handler: `run()` with `submit` disabled and `error` cleared; a refusal shown in
 * `error` (a 429's wait counted down on the button), then given to `failed` if there is one.
 */
export function onSubmit({ submit, error, t, failed }, run) {
  return async (event) => {
    event.preventDefault();
    clearError(error);
    submit.disabled = true;
    try {
      await run();
      submit.disabled = false;
    } catch (failure) {
      submit.disabled = false;
      showError(error, failure, t);
      if (failure.retryAfter && failure.status === 429) waitOn(submit, failure.retryAfter, t);
      failed?.(failure);
    }
  };
}

/**
 * Keeps `button` disabled for `seconds`, counting down on it, then gives it back its label: what a
 * 429 or a lockout asks the user to wait.
 */
export function waitOn(button, seconds, t) {
  const label = button.dataset.label ?? button.textContent;
  button.dataset.label = label;
  button.disabled = true;
  let left = Math.max(1, Math.ceil(seconds));
  const tick = () => {
    if (left <= 0) {
      button.disabled = false;
      button.textContent = label;
      return;
    }
    button.textContent = t('wait.seconds', { label, seconds: left });
    left -= 1;
    setTimeout(tick, 1000);
  };
  tick();
}

/** A date as the user's language writes it. */
export function when(iso, language) {
  if (!iso) return '';
  return new Date(iso).toLocaleString(language, { dateStyle: 'medium', timeStyle: 'short' });
}
