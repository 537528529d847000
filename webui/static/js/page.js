// page.js — what every page shares: the heading, a live region for results and errors of
// actions, and the confirm-then-call pattern for destructive buttons.
import { h, append, clear } from './dom.js';
import { ApiError } from './api.js';
import { confirmAction } from './dialogs.js';

export function pageShell(main, title, intro) {
  const flash = h('div.flash', { role: 'status', 'aria-live': 'polite' });
  append(main, [h('h1', null, title), intro ? h('p.intro', null, intro) : null, flash]);
  return {
    ok(msg) { show(flash, msg, 'ok'); },
    error(msg) { show(flash, msg, 'error'); },
  };
}

function show(flash, msg, kind) {
  clear(flash);
  flash.append(h(`p.notice.notice-${kind}`, null, msg));
}

// A section with a heading (h2) whose body is re-filled by load().
export function section(id, title, ...children) {
  return h('section', { 'aria-labelledby': id }, h(`h2#${id}`, null, title), children);
}

// A button that runs fn; with confirm text it asks first. Errors go to the page's flash.
export function actionButton(label, shell, fn, { confirm, confirmLabel, danger, accessibleName } = {}) {
  const b = h('button', { type: 'button', class: danger ? 'danger small' : 'secondary small', 'aria-label': accessibleName }, label);
  b.addEventListener('click', async () => {
    if (confirm && !(await confirmAction(confirm, confirmLabel || label))) return;
    b.disabled = true;
    try {
      const msg = await fn();
      if (msg) shell.ok(msg);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status !== 401) shell.error(e.message);
    } finally {
      if (b.isConnected) b.disabled = false;
    }
  });
  return b;
}

// Loads into a container, showing an error (e.g. 503: carterod not running) instead of the data.
export async function loadInto(container, fn) {
  try {
    const node = await fn();
    clear(container);
    container.append(node);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    clear(container);
    if (e.status !== 401) container.append(h('p.notice.notice-error', { role: 'alert' }, e.message));
  }
}
