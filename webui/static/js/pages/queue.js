// Live queue: filter, page through, refresh every 5 seconds (keeping keyboard focus), details,
// and retry / hold / release / bounce / delete per message (the last two ask first).
import { api, qs } from '../api.js';
import { h, append, clear, table, timeEl, fmtBytes, fmtTime, badge, enc } from '../dom.js';
import { infoDialog } from '../dialogs.js';
import { filterForm } from '../filters.js';
import { pageShell, section, actionButton } from '../page.js';
import { ApiError } from '../api.js';
import { attended } from '../session.js';

export const title = 'Queue';
const PAGE = 50;
const REFRESH_MS = 5000;

export async function render(main, params) {
  const shell = pageShell(main, 'Queue', 'Messages waiting for delivery. The list refreshes by itself.');
  const filter = {
    state: params.get('state') || '', kind: params.get('kind') || '', sender: params.get('sender') || '',
    recipient: params.get('recipient') || '', held: params.get('held') || '',
  };
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const list = h('div');
  const updated = h('p.updated');
  const auto = h('input#queue-auto', { type: 'checkbox', checked: true });
  const load = async () => {
    let data;
    try {
      data = await api('GET', `/queue${qs({ ...filter, limit: PAGE, offset })}`);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      clear(list);
      if (e.status !== 401) list.append(h('p.notice.notice-error', { role: 'alert' }, e.message));
      return;
    }
    const focusKey = list.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    clear(list);
    append(list, [queueTable(shell, data, load), pager(params, data, offset)]);
    updated.textContent = `${data.total} message(s) match. Updated ${fmtTime(Date.now() / 1000)}.`;
    if (focusKey) {
      const again = list.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  };
  main.append(
    filterForm('queue', params, [
      { name: 'state', label: 'Recipient state', type: 'select', options: [{ value: '', label: 'Any' },
        ...['queued', 'deferred', 'failed', 'delivered'].map(v => ({ value: v }))] },
      { name: 'kind', label: 'Kind', type: 'select', options: [{ value: '', label: 'Any' }, { value: 'remote' }, { value: 'local' }] },
      { name: 'held', label: 'Held', type: 'select', options: [{ value: '', label: 'Any' }, { value: 'true', label: 'held only' }, { value: 'false', label: 'not held' }] },
      { name: 'sender', label: 'Sender', placeholder: 'news@example.org' },
      { name: 'recipient', label: 'Recipient', placeholder: 'ann@example.com' },
    ]),
    section('queue-list', 'Messages',
      h('div.refresh-bar', null, h('div.field-check', null, auto, h('label', { for: 'queue-auto' }, 'Refresh every 5 seconds')),
        h('button.secondary.small', { type: 'button', onClick: () => load() }, 'Refresh now'), updated),
      list));
  await load();
  const timer = setInterval(() => {
    // No refresh under an open dialog: the admin is deciding about what is on screen.
    if (auto.checked && attended() && !document.querySelector('dialog[open]')) load();
  }, REFRESH_MS);
  return () => clearInterval(timer);
}

function queueTable(shell, data, load) {
  return table('Queued messages', [
    { label: 'Queue id', cell: m => h('button.linklike', { type: 'button', dataset: { key: `${m.id}:details` },
      'aria-label': `Details of message ${m.id}`, onClick: () => details(m.id) }, m.id) },
    { label: 'Received', cell: m => timeEl(m.received_at) },
    { label: 'Sender', class: 'wrap', cell: m => m.sender || '<>' },
    { label: 'Recipients', class: 'wrap', cell: m => h('ul.plain.recipients', null, (m.recipients || []).map(recipientItem)) },
    { label: 'Size', class: 'num', cell: m => fmtBytes(m.size) },
    { label: 'Actions', cell: m => messageActions(shell, m, load) },
  ], data.items, 'The queue is empty for this filter.');
}

function recipientItem(r) {
  return h('li', null,
    h('span.rcpt', null, r.recipient || r.rcpt_to), ' ', badge(r.state), ` ${r.kind || ''}`,
    r.attempts ? h('span.meta', null, ` · ${r.attempts} attempt(s)`) : null,
    r.state === 'deferred' && r.next_attempt_at ? h('span.meta', null, ' · next ', timeEl(r.next_attempt_at)) : null,
    r.last_reply ? h('p.reply', null, r.last_reply) : null);
}

function messageActions(shell, m, load) {
  const act = (label, path, msg, opts = {}) => {
    const b = actionButton(label, shell, async () => {
      const r = path === 'DELETE'
        ? await api('DELETE', `/queue/${enc(m.id)}`)
        : await api('POST', `/queue/${enc(m.id)}/${path}`);
      await load();
      // Hold and release act on the message, not on recipients: no count to report.
      return opts.count === false ? `${msg}.` : `${msg} (${r && r.recipients !== undefined ? r.recipients : 0} recipient(s)).`;
    }, { danger: opts.danger, confirm: opts.confirm, accessibleName: `${label} message ${m.id}` });
    b.dataset.key = `${m.id}:${label}`;
    return b;
  };
  return h('div.row-actions', null,
    act('Retry', 'retry', `Message ${m.id} will be retried now`),
    m.held ? act('Release', 'release', `Message ${m.id} released`, { count: false })
      : act('Hold', 'hold', `Message ${m.id} held`, { count: false }),
    act('Bounce', 'bounce', `Message ${m.id} bounced to its sender`, { danger: true,
      confirm: `Bounce message ${m.id}? Its undelivered recipients are given up and the sender gets a bounce report.` }),
    act('Delete', 'DELETE', `Message ${m.id} deleted`, { danger: true,
      confirm: `Delete message ${m.id}? It is removed without a bounce report; this cannot be undone.` }));
}

function pager(params, data, offset) {
  if (data.total <= PAGE) return null;
  const link = (label, off) => {
    const p = new URLSearchParams(params);
    p.set('offset', String(off));
    return h('a.button-link.small', { href: `#/queue?${p}` }, label);
  };
  return h('nav.pager', { 'aria-label': 'Queue pages' },
    offset > 0 ? link('Previous page', Math.max(0, offset - PAGE)) : null,
    h('span', null, `${offset + 1}–${Math.min(data.total, offset + PAGE)} of ${data.total}`),
    offset + PAGE < data.total ? link('Next page', offset + PAGE) : null);
}

async function details(id) {
  let m;
  try {
    m = await api('GET', `/queue/${enc(id)}`);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    infoDialog(`Message ${id}`, h('p.notice.notice-error', null, e.message));
    return;
  }
  const dl = h('dl.details', null, [
    ['Received', timeEl(m.received_at)], ['Sender', m.sender || '<>'], ['Message-ID', m.message_id || '—'],
    ['Client', `${m.client_ip || '—'} (HELO ${m.helo || '—'})`], ['Authenticated as', m.auth_user || '—'],
    ['Size', fmtBytes(m.size)], ['Held', m.held ? 'yes' : 'no'],
  ].map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, v))));
  const attempts = table('Delivery attempts', [
    { label: 'Time', cell: r => timeEl(r.at) },
    { label: 'Recipient', class: 'wrap', cell: r => r.recipient },
    { label: 'Result', cell: r => badge(r.result) },
    { label: 'Remote reply', class: 'wrap', cell: r => r.reply || '' },
  ], m.log || [], 'No delivery attempt yet.');
  const headers = m.headers ? h('details', null, h('summary', null, 'Headers'), h('pre.headers', null, String(m.headers))) : null;
  infoDialog(`Message ${id}`, h('div', null, dl, h('h3', null, 'Recipients'),
    h('ul.plain.recipients', null, (m.recipients || []).map(recipientItem)), h('h3', null, 'Attempts'), attempts, headers));
}
