// forms.js — accessible forms that validate in the browser and show the server's
// {"error","field"} next to the field it names (else at the top of the form).
//
// Field spec: {name, label, type ('text' | 'password' | 'email' | 'number' | 'select' |
// 'checkbox' | 'textarea' | 'datetime-local'), required, value, options: [{value, label}],
// hint, pattern, patternMessage, min, max, maxlength, autocomplete, placeholder,
// validate: (value, values) => message | '', keepEmpty (send '' instead of leaving it out)}.
import { h } from './dom.js';
import { ApiError } from './api.js';

let formCounter = 0;

export function buildForm(fields, onSubmit, opts = {}) {
  const id = `f${++formCounter}`;
  const formError = h('p.form-error', { role: 'alert', hidden: true });
  const status = h('p.form-status', { role: 'status' });
  const controls = {};
  const rows = fields.map(f => fieldRow(id, f, controls));
  const submit = h('button', { type: 'submit' }, opts.submitLabel || 'Save');
  const buttons = [submit];
  if (opts.onCancel) {
    buttons.push(h('button.secondary', { type: 'button', onClick: opts.onCancel }, 'Cancel'));
  }
  const form = h('form', { novalidate: true, class: opts.inline ? 'inline-form' : 'stacked-form',
    'aria-label': opts.label }, formError, rows, h('div.actions', null, buttons), status);

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearErrors(form);
    status.textContent = '';
    const values = readValues(fields, controls);
    const bad = validate(fields, controls, values);
    if (bad.length) {
      for (const [name, msg] of bad) showFieldError(form, name, msg);
      controls[bad[0][0]].focus();
      return;
    }
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      await onSubmit(values, form);
      if (opts.resetOnSuccess) form.reset();
      if (opts.successMessage) status.textContent = opts.successMessage;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      showServerError(form, e);
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
  return form;
}

function fieldRow(formId, f, controls) {
  const cid = `${formId}-${f.name}`;
  const hintId = `${cid}-hint`;
  const errId = `${cid}-error`;
  const described = [f.hint ? hintId : '', errId].filter(Boolean).join(' ');
  let control;
  const common = { id: cid, name: f.name, required: f.required, 'aria-describedby': described,
    autocomplete: f.autocomplete, placeholder: f.placeholder };
  if (f.type === 'select') {
    control = h('select', common, (f.options || []).map(o => h('option',
      { value: o.value, selected: String(o.value) === String(f.value ?? '') }, o.label ?? o.value)));
  } else if (f.type === 'textarea') {
    control = h('textarea', { ...common, rows: f.rows || 3, maxlength: f.maxlength }, f.value ?? '');
  } else if (f.type === 'checkbox') {
    control = h('input', { ...common, type: 'checkbox', checked: Boolean(f.value) });
  } else {
    control = h('input', { ...common, type: f.type || 'text', value: f.value ?? '', pattern: f.pattern,
      min: f.min, max: f.max, maxlength: f.maxlength, step: f.step, inputmode: f.inputmode,
      spellcheck: f.type === 'password' ? 'false' : undefined });
  }
  controls[f.name] = control;
  // Required fields carry the required attribute (announced by screen readers); optional ones
  // say so in their hint, so labels stay plain text.
  const label = h('label', { for: cid }, f.label);
  const hint = f.hint ? h('p.hint', { id: hintId }, f.hint) : null;
  const err = h('p.field-error', { id: errId, dataset: { field: f.name } });
  const cls = f.type === 'checkbox' ? 'field field-check' : 'field';
  const row = f.type === 'checkbox'
    ? h('div', { class: cls }, control, label, hint, err)
    : h('div', { class: cls }, label, control, hint, err);
  row.hidden = Boolean(f.hidden); // shown later by the page (e.g. the TOTP code when asked for)
  return row;
}

function readValues(fields, controls) {
  const v = {};
  for (const f of fields) {
    const c = controls[f.name];
    if (c.closest('.field').hidden) continue;
    if (f.type === 'checkbox') v[f.name] = c.checked;
    else if (f.type === 'password') v[f.name] = c.value;
    else v[f.name] = c.value.trim();
  }
  return v;
}

function validate(fields, controls, values) {
  const bad = [];
  for (const f of fields) {
    const c = controls[f.name];
    if (!(f.name in values)) continue; // a hidden field
    const val = values[f.name];
    let msg = '';
    if (f.required && f.type !== 'checkbox' && val === '') msg = `${f.label} is required.`;
    else if (c.validity && c.validity.patternMismatch) msg = f.patternMessage || `${f.label} is not in the expected form.`;
    else if (c.validity && !c.validity.valid && val !== '') msg = c.validationMessage;
    else if (f.validate && (val !== '' || f.required || f.alwaysValidate)) msg = f.validate(val, values) || '';
    if (msg) bad.push([f.name, msg]);
  }
  return bad;
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  const fe = form.querySelector('.form-error');
  fe.textContent = '';
  fe.hidden = true;
}

export function showFieldError(form, name, msg) {
  const err = form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
  if (!err) return false;
  err.textContent = msg;
  const control = form.elements.namedItem(name);
  if (control) control.setAttribute('aria-invalid', 'true');
  return true;
}

export function showServerError(form, e) {
  if (e.field && showFieldError(form, e.field, e.message)) {
    const control = form.elements.namedItem(e.field);
    if (control) control.focus();
    return;
  }
  const fe = form.querySelector('.form-error');
  fe.textContent = e.message;
  fe.hidden = false;
}

// Leaves out optional empty values so the server applies its defaults.
export function compact(values, keep = []) {
  const out = {};
  for (const [k, v] of Object.entries(values)) if (v !== '' || keep.includes(k)) out[k] = v;
  return out;
}

// Simple shared validators (the server checks again; these catch typos before a round trip).
export const check = {
  domain: v => /^(?=.{1,253}$)([^\s.@/]{1,63}\.)+[^\s.@/]{1,63}$/u.test(v) ? '' : 'Enter a domain name like example.org.',
  address: v => /^[^\s@]+@[^\s@]+\.[^\s@]+$/u.test(v) ? '' : 'Enter an address like ann@example.org.',
  sourceAddress: v => /^[^\s@]*@[^\s@]+\.[^\s@]+$/u.test(v) ? '' : 'Enter an address like sales@example.org, or @example.org for a catch-all.',
  addressList: v => {
    const list = splitList(v);
    if (!list.length) return 'Enter at least one address.';
    const bad = list.find(a => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/u.test(a));
    return bad ? `"${bad}" is not an address like ann@example.org.` : '';
  },
  quota: v => /^(0|\d+(\.\d+)?\s*[KMGT]?i?B?)$/i.test(v) ? '' : 'Enter a size like 500M or 2G (0 = unlimited).',
  ip: v => (/^(\d{1,3}\.){3}\d{1,3}$/.test(v) && v.split('.').every(n => Number(n) <= 255)) || /^[0-9a-f:.]+$/i.test(v) && v.includes(':')
    ? '' : 'Enter an IPv4 or IPv6 address like 192.0.2.10.',
  password: v => v.length >= 8 ? '' : 'Use at least 8 characters.',
};

export function splitList(v) {
  return String(v).split(/[\s,;]+/).map(s => s.trim()).filter(Boolean);
}
