// What every account view shares: the page's settings (from the <meta> tag),
// the one latchkey/client of the page, the status line and small DOM helpers.
import { LatchkeyClient, LatchkeyError, localStorageStorage } from '../latchkey-client.js';

export const settings = JSON.parse(document.querySelector('meta[name="latchkey-account"]').content);

// Header mode keeps the tokens in this tab's sessionStorage, so moving between
// /account/ pages keeps the session and closing the tab forgets it; cookie mode
// leaves them to the server's httpOnly cookies.
export const client = new LatchkeyClient({
  baseUrl: settings.baseUrl,
  authBasePath: settings.authBasePath,
  mode: settings.mode,
  storage: localStorageStorage('latchkey.account', globalThis.sessionStorage),
});

/** The strings of a view in the page's language (English when there are none). */
export const strings = (table) => table[settings.lang] ?? table.en;

/** Where an /account/ page lives under the server's prefix. */
export const accountUrl = (path = '') => `${settings.baseUrl}/account/${path}`;

export const $ = (id) => document.getElementById(id);

/** Says something in the status line (a live region); `kind` is '', 'ok' or 'error'. */
export function say(message, kind = '') {
  $('status').textContent = message;
  $('status').className = kind;
}

/**
 * An element: `h('button', { type: 'submit' }, 'Save')`. Properties go on the
 * element (textContent, hidden…), `data-*`, `aria-*` and `for` as attributes.
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('data-') || key.startsWith('aria-') || key === 'for' || key === 'autocomplete' || key === 'inputmode') element.setAttribute(key, value);
    else element[key] = value;
  }
  element.append(...children.filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** A labelled input: the label's text above it, as the existing forms do. */
export function field(label, input) {
  return h('label', {}, h('span', { textContent: label }), ' ', h('input', input));
}

/** Replaces the view's content and moves the focus to its first heading (or `focus`), so keyboard and screen-reader users land on the new step. */
export function show(view, nodes, focus) {
  view.replaceChildren(...nodes);
  const target = focus ?? view.querySelector('h2');
  if (target) {
    if (target.tagName === 'H2' || target.tagName === 'H1') target.tabIndex = -1;
    target.focus();
  }
}

/** Runs `work` with the form's buttons disabled; a rejection is shown by `onError`. */
export async function submitting(form, work, onError) {
  const buttons = [...form.querySelectorAll('button')];
  for (const button of buttons) button.disabled = true;
  try {
    await work();
  } catch (error) {
    onError(error);
  } finally {
    for (const button of buttons) button.disabled = false;
  }
}

/** A date as the page's language writes it. */
export function when(iso) {
  return new Intl.DateTimeFormat(settings.lang, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** Shows a failed call: the server's own words (in the page's language) for its errors, `fallback` ('…{detail}') for anything else. */
export function problem(error, fallback) {
  if (error instanceof LatchkeyError && error.status > 0 && error.status < 500) return say(error.detail, 'error');
  say(fallback.replace('{detail}', error instanceof Error ? error.message : String(error)), 'error');
}
