// filters.js — a GET-style filter form whose values go into the page's hash parameters, so a
// filtered view can be bookmarked and the back button works.
import { h } from './dom.js';

let n = 0;

// fields: [{name, label, type: 'text' | 'select' | 'date', options, placeholder}]
export function filterForm(page, params, fields, submitLabel = 'Show') {
  const id = `flt${++n}`;
  const controls = fields.map(f => {
    const cid = `${id}-${f.name}`;
    const value = params.get(f.name) || '';
    const control = f.type === 'select'
      ? h('select', { id: cid, name: f.name }, f.options.map(o => h('option', { value: o.value, selected: o.value === value }, o.label ?? o.value)))
      : h('input', { id: cid, name: f.name, type: f.type || 'text', value, placeholder: f.placeholder, required: f.required });
    return h('div.field', null, h('label', { for: cid }, f.label), control);
  });
  const form = h('form.filter-form', { role: 'search', 'aria-label': `Filter ${page}`, novalidate: true }, controls,
    h('div.actions', null, h('button', { type: 'submit' }, submitLabel)));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const f of fields) {
      const v = form.elements.namedItem(f.name).value.trim();
      if (v) p.set(f.name, v);
    }
    const target = `#/${page}${p.toString() ? `?${p}` : ''}`;
    if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = target;
  });
  return form;
}

export async function domainOptions(api, allLabel = 'All domains') {
  const { items } = await api('GET', '/domains');
  return [{ value: '', label: allLabel }, ...items.map(d => ({ value: d.name }))];
}
