// dom.js — element building and formatting helpers. Everything is built with DOM calls
// (never innerHTML with data), so server text can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

// h('tag.class#id', {attr: value, onClick: fn}, ...children)
export function h(spec, attrs, ...children) {
  const el = document.createElement(tagOf(spec));
  applySpec(el, spec);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

function tagOf(spec) {
  return spec.split(/[.#]/)[0] || 'div';
}

function applySpec(el, spec) {
  const id = spec.match(/#([\w-]+)/);
  if (id) el.id = id[1];
  for (const m of spec.matchAll(/\.([\w-]+)/g)) el.classList.add(m[1]);
}

function applyAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      for (const c of String(v).split(/\s+/).filter(Boolean)) el.classList.add(c);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// A table from column specs: [{label, cell: row => Node|string, class}], with a caption.
export function table(caption, columns, rows, empty = 'Nothing here yet.') {
  if (!rows.length) return h('p.empty', null, empty);
  return h('div.table-wrap', null,
    h('table', null,
      h('caption', null, caption),
      h('thead', null, h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', null, rows.map(r => h('tr', null, columns.map(c => h('td', { class: c.class }, c.cell(r))))))));
}

export function fmtTime(t) {
  if (t === undefined || t === null || t === 0) return '—';
  const d = new Date(t * 1000);
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeEl(t) {
  if (!t) return '—';
  return h('time', { datetime: new Date(t * 1000).toISOString() }, fmtTime(t));
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

// A status pill: text plus a class naming the state (colour comes from app.css).
export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind || String(text).replace(/[^\w-]/g, '')}` }, text);
}

export function enc(s) {
  return encodeURIComponent(s);
}
