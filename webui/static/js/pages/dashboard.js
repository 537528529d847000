// Dashboard: queue size, results over 24 hours and 7 days (SVG charts), paused destinations
// and warnings. Refreshes every 30 seconds while shown.
import { api } from '../api.js';
import { h, clear, table, timeEl, fmtDuration } from '../dom.js';
import { barChart, SERIES } from '../chart.js';
import { attended } from '../session.js';

export const title = 'Dashboard';

const pad = n => String(n).padStart(2, '0');
const hourLabel = at => `${pad(new Date(at * 1000).getHours())}:00`;
const dayLabel = at => new Date(at * 1000).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric' });

export async function render(main) {
  const body = h('div');
  main.append(h('h1', null, 'Dashboard'), body);
  const load = async () => fill(body, await api('GET', '/stats'));
  await load();
  const timer = setInterval(() => { if (attended()) load().catch(() => {}); }, 30000);
  return () => clearInterval(timer);
}

function card(label, value, note) {
  return h('div.card', null, h('p.card-label', null, label), h('p.card-value', null, value), note ? h('p.card-note', null, note) : null);
}

function sumWindow(w) {
  return SERIES.map(s => h('div', null, h('dt', null, s.label), h('dd', null, (w && w[s.key]) || 0)));
}

function fill(body, s) {
  clear(body);
  const q = (s.status && s.status.queue) || {};
  const deferred = Object.values((q.recipients && q.recipients.deferred) || {}).reduce((a, b) => a + b, 0);
  const w24 = (s.windows && s.windows['24h']) || {};
  const w7 = (s.windows && s.windows['7d']) || {};
  body.append(
    h('section', { 'aria-labelledby': 'dash-now' },
      h('h2#dash-now', null, 'Now'),
      h('div.cards', null,
        card('Messages in the queue', q.messages ?? 0, `${q.held ?? 0} held, ${deferred} recipient(s) deferred`),
        card('Delivered, last 24 h', w24.delivered ?? 0),
        card('Deferred, last 24 h', w24.deferred ?? 0),
        card('Failed or bounced, last 24 h', (w24.failed ?? 0) + (w24.bounced ?? 0)),
        card('Destinations paused', s.paused ?? 0),
        card('Accepted since start', s.status?.messages_accepted ?? 0,
          s.status?.uptime_seconds !== undefined ? `carterod ${s.status.version || ''} up ${fmtDuration(s.status.uptime_seconds)}` : ''))),
    h('section', { 'aria-labelledby': 'dash-warn' },
      h('h2#dash-warn', null, 'Warnings'),
      s.warnings && s.warnings.length
        ? h('ul.warnings', null, s.warnings.map(w => h('li', null, w)))
        : h('p.ok', null, 'Nothing needs your attention.')),
    h('section.charts', { 'aria-labelledby': 'dash-charts' },
      h('h2#dash-charts', null, 'Deliveries'),
      h('div.chart-grid', null,
        h('div', null,
          barChart('chart-24h', 'Last 24 hours, per hour', buckets(s.hourly, 3600, 24), hourLabel, 3),
          h('dl.totals', { 'aria-label': 'Totals over 24 hours' }, sumWindow(w24))),
        h('div', null,
          barChart('chart-7d', 'Last 7 days, per day', buckets(s.daily, 86400, 7), dayLabel, 1),
          h('dl.totals', { 'aria-label': 'Totals over 7 days' }, sumWindow(w7))))),
    h('section', { 'aria-labelledby': 'dash-dest' },
      h('h2#dash-dest', null, 'Paused destinations'),
      pausedTable(s.destinations || [])));
}

// Exactly `count` buckets ending with the current one: the server may leave out empty ones.
function buckets(items, step, count) {
  items = items || [];
  const byAt = new Map(items.map(b => [b.at, b]));
  const last = items.length ? Math.max(...items.map(b => b.at), Math.floor(Date.now() / 1000 / step) * step)
    : Math.floor(Date.now() / 1000 / step) * step;
  const out = [];
  for (let i = count - 1; i >= 0; i--) {
    const at = last - i * step;
    out.push(byAt.get(at) || { at, delivered: 0, deferred: 0, failed: 0, bounced: 0 });
  }
  return out;
}

function pausedTable(dests) {
  const now = Date.now() / 1000;
  const paused = dests.filter(d => d.paused_until && d.paused_until > now);
  return table('Destinations whose deliveries are paused', [
    { label: 'Destination', cell: d => d.domain || d.destination || '?' },
    { label: 'Paused until', cell: d => timeEl(d.paused_until) },
    { label: 'Why', cell: d => d.why || '' },
  ], paused, 'No destination is paused.');
}
