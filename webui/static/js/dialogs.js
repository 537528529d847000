// dialogs.js — confirmation and form dialogs on real <dialog> elements (keyboard: Esc cancels,
// focus is trapped by showModal and returns to the opener on close).
import { h } from './dom.js';
import { buildForm } from './forms.js';

// Resolves true when the admin confirms, false on cancel or Esc.
export function confirmAction(message, actionLabel = 'Delete') {
  return new Promise(resolve => {
    const opener = document.activeElement;
    const title = h('h2#confirm-title', null, 'Please confirm');
    const cancel = h('button.secondary', { type: 'button', dataset: { action: 'cancel' } }, 'Cancel');
    const ok = h('button.danger', { type: 'button', dataset: { action: 'confirm' } }, actionLabel);
    const dlg = h('dialog.confirm', { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-message' },
      title, h('p#confirm-message', null, message), h('div.actions', null, cancel, ok));
    let answer = false;
    cancel.addEventListener('click', () => dlg.close());
    ok.addEventListener('click', () => { answer = true; dlg.close(); });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus(); // the safe choice has the focus
  });
}

// A modal form: fields as in forms.js; submit(values) may throw ApiError (shown at the field).
// Resolves with submit's result, or null when cancelled.
export function formDialog(titleText, fields, submit, submitLabel = 'Save') {
  return new Promise(resolve => {
    const opener = document.activeElement;
    let result = null;
    const dlg = h('dialog.form-dialog', { 'aria-labelledby': 'form-dialog-title' });
    const form = buildForm(fields, async values => {
      result = await submit(values);
      dlg.close();
    }, { submitLabel, onCancel: () => dlg.close() });
    dlg.append(h('h2#form-dialog-title', null, titleText), form);
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(result);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

// A read-only dialog (details of a queued message); Close or Esc closes it.
export function infoDialog(titleText, content) {
  const opener = document.activeElement;
  const close = h('button.secondary', { type: 'button' }, 'Close');
  const dlg = h('dialog.info-dialog', { 'aria-labelledby': 'info-dialog-title' },
    h('h2#info-dialog-title', null, titleText), content, h('div.actions', null, close));
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
}
