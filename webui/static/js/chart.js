// chart.js — a stacked bar chart in SVG drawn by hand (no library): one bar per bucket,
// one segment per result. Colours come from app.css classes; every bar has a <title> and the
// same numbers are available as a table for screen readers and keyboard users.
import { h, svg } from './dom.js';

export const SERIES = [
  { key: 'delivered', label: 'Delivered' },
  { key: 'deferred', label: 'Deferred' },
  { key: 'failed', label: 'Failed' },
  { key: 'bounced', label: 'Bounced' },
];

const W = 640;
const H = 220;
const PAD = { left: 44, right: 8, top: 12, bottom: 28 };

function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// buckets: [{at, delivered, deferred, failed, bounced}], label(at) → axis text.
export function barChart(id, title, buckets, label, everyNth = 1) {
  const totals = buckets.map(b => SERIES.reduce((s, x) => s + (Number(b[x.key]) || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(2, slot * 0.7);
  const y = v => PAD.top + plotH - (v / max) * plotH;

  const grid = [0, 0.25, 0.5, 0.75, 1].map(f => {
    const v = max * f;
    return svg('g', { class: 'grid' },
      svg('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }),
      svg('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  });

  const bars = buckets.map((b, i) => {
    const x = PAD.left + i * slot + (slot - barW) / 2;
    let acc = 0;
    const segs = SERIES.map(s => {
      const v = Number(b[s.key]) || 0;
      if (!v) return null;
      const r = svg('rect', { class: `bar-${s.key}`, x, width: barW, y: y(acc + v), height: Math.max(1, y(acc) - y(acc + v)) });
      acc += v;
      return r;
    });
    const tip = `${label(b.at)}: ` + SERIES.map(s => `${Number(b[s.key]) || 0} ${s.label.toLowerCase()}`).join(', ');
    const axis = i % everyNth === 0
      ? svg('text', { class: 'axis', x: x + barW / 2, y: H - 10, 'text-anchor': 'middle' }, label(b.at)) : null;
    return svg('g', { class: 'bar' }, svg('title', null, tip),
      svg('rect', { class: 'bar-hit', x: PAD.left + i * slot, width: slot, y: PAD.top, height: plotH }), segs, axis);
  });

  const sum = SERIES.map(s => `${buckets.reduce((a, b) => a + (Number(b[s.key]) || 0), 0)} ${s.label.toLowerCase()}`).join(', ');
  const chart = svg('svg', { id, class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc` },
    svg('title', { id: `${id}-title` }, title),
    svg('desc', { id: `${id}-desc` }, `Totals: ${sum}.`),
    grid,
    svg('line', { class: 'baseline', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }),
    bars);

  const data = h('details', null, h('summary', null, `${title}: numbers as a table`),
    h('div.table-wrap', null, h('table', null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Period'), SERIES.map(s => h('th', { scope: 'col' }, s.label)))),
      h('tbody', null, buckets.map(b => h('tr', null, h('th', { scope: 'row' }, label(b.at)),
        SERIES.map(s => h('td.num', null, Number(b[s.key]) || 0))))))));
  return h('figure.chart-figure', null, h('figcaption', null, title), chart, legend(), data);
}

export function legend() {
  return h('ul.legend', { 'aria-label': 'Legend' },
    SERIES.map(s => h('li', null, h(`span.swatch.bar-${s.key}`, { 'aria-hidden': 'true' }), s.label)));
}
