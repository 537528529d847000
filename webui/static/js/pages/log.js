// Delivery log search: every attempt for an address, a queue id or a Message-ID, with the
// remote server's reply.
import { api, qs } from '../api.js';
import { h, table, timeEl, badge } from '../dom.js';
import { filterForm } from '../filters.js';
import { pageShell, section, loadInto } from '../page.js';

export const title = 'Delivery log';

export async function render(main, params) {
  pageShell(main, 'Delivery log', 'Search every delivery attempt by address, queue id or Message-ID.');
  const query = params.get('query') || '';
  const since = toUnix(params.get('since'));
  const until = toUnix(params.get('until'), true);
  const results = h('div');
  main.append(filterForm('log', params, [
    { name: 'query', label: 'Address, queue id or Message-ID', placeholder: 'ann@example.org' },
    { name: 'since', label: 'From (day)', type: 'date' },
    { name: 'until', label: 'To (day)', type: 'date' },
  ], 'Search'), section('log-results', 'Results', results));
  if (!query) {
    results.append(h('p.empty', null, 'Enter an address, a queue id or a Message-ID and choose Search.'));
    return;
  }
  await loadInto(results, async () => {
    const { items } = await api('GET', `/log${qs({ query, since, until, limit: 500 })}`);
    return table(`Delivery attempts for ${query} (newest first)`, [
      { label: 'Time', cell: r => timeEl(r.at) },
      { label: 'Queue id', cell: r => h('a', { href: `#/log?query=${encodeURIComponent(r.queue_id)}` }, r.queue_id) },
      { label: 'Sender → recipient', class: 'wrap', cell: r => `${r.sender || '<>'} → ${r.recipient}` },
      { label: 'Result', cell: r => h('span', null, badge(r.result), r.bounce_class ? ` ${r.bounce_class}` : '') },
      { label: 'Remote host', class: 'wrap', cell: r => [r.dest_host, r.dest_ip].filter(Boolean).join(' ') || '—' },
      { label: 'TLS', cell: r => r.tls || '—' },
      { label: 'Reply', class: 'wrap', cell: r => r.reply || '' },
      { label: 'Message-ID', class: 'wrap', cell: r => r.message_id || '' },
    ], items, `Nothing in the delivery log for ${query}.`);
  });
}

// 'YYYY-MM-DD' (local day) → Unix seconds at its start (or end).
function toUnix(day, end = false) {
  if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return '';
  const [y, m, d] = day.split('-').map(Number);
  const t = new Date(y, m - 1, d + (end ? 1 : 0)).getTime() / 1000;
  return String(end ? t - 1 : t);
}
