// Bounces: failed and bounced deliveries by class, with the remote reply.
import { api, qs } from '../api.js';
import { h, table, timeEl, badge, enc } from '../dom.js';
import { filterForm } from '../filters.js';
import { pageShell, section, loadInto } from '../page.js';

export const title = 'Bounces';

const PERIODS = [{ value: '1', label: 'last 24 hours' }, { value: '7', label: 'last 7 days' }, { value: '30', label: 'last 30 days' }];

export async function render(main, params) {
  pageShell(main, 'Bounces', 'Deliveries that failed for good, grouped by why.');
  const cls = params.get('class') || '';
  const days = params.get('days') || '7';
  const since = Math.floor(Date.now() / 1000) - Number(days) * 86400;
  const classes = h('div');
  const rows = h('div');
  let known = [];
  await loadInto(rows, async () => {
    const data = await api('GET', `/bounces${qs({ class: cls, since, limit: 500 })}`);
    known = Object.keys(data.classes || {});
    classes.append(classTable(data.classes || {}, days));
    return table(cls ? `Bounces of class ${cls}` : 'All bounces', [
      { label: 'Time', cell: r => timeEl(r.at) },
      { label: 'Recipient', class: 'wrap', cell: r => r.recipient },
      { label: 'Sender', class: 'wrap', cell: r => r.sender || '<>' },
      { label: 'Class', cell: r => r.bounce_class || '—' },
      { label: 'Result', cell: r => badge(r.result) },
      { label: 'Remote reply', class: 'wrap', cell: r => r.reply || '' },
      { label: 'Log', cell: r => h('a', { href: `#/log?query=${enc(r.queue_id)}`, 'aria-label': `Delivery log of ${r.queue_id}` }, r.queue_id) },
    ], data.items || [], 'No bounces in this period.');
  });
  const opts = [{ value: '', label: 'All classes' }, ...[...new Set([...known, cls].filter(Boolean))].map(c => ({ value: c }))];
  main.append(
    filterForm('bounces', params, [
      { name: 'class', label: 'Class', type: 'select', options: opts },
      { name: 'days', label: 'Period', type: 'select', options: PERIODS },
    ]),
    section('bounce-classes', 'By class', classes),
    section('bounce-rows', 'Bounced deliveries', rows));
}

function classTable(classes, days) {
  const rows = Object.entries(classes).sort((a, b) => b[1] - a[1]);
  return table(`Bounces by class, ${PERIODS.find(p => p.value === days)?.label || ''}`, [
    { label: 'Class', cell: ([c]) => h('a', { href: `#/bounces?class=${enc(c)}&days=${days}` }, c) },
    { label: 'Count', class: 'num', cell: ([, n]) => n },
  ], rows, 'No bounces in this period.');
}
