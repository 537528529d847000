// Routes: which pool a sender uses, and next hops for recipient domains ('*' = relayhost).
import { api } from '../api.js';
import { h, table, enc } from '../dom.js';
import { buildForm, compact } from '../forms.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Routes';

const destCheck = v => v === '*' || /^(?=.{1,253}$)([^\s.@/]{1,63}\.)+[^\s.@/]{1,63}$/u.test(v) ? '' : 'Enter a domain like example.com, or * for all other mail (the relayhost).';
const portCheck = v => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 65535 ? '' : 'Enter a port from 1 to 65535.';
const senderCheck = v => /^[^\s@]*@[^\s@]+\.[^\s@]+$|^[^\s@]+\.[^\s@]+$/u.test(v) ? '' : 'Enter an address (news@example.org) or a domain (example.org).';

export async function render(main) {
  const shell = pageShell(main, 'Routes', 'Where outgoing mail goes: per sender (which IP pool) and per recipient domain (which next hop).');
  const senders = h('div');
  const transports = h('div');
  let pools = [];
  const loadSenders = () => loadInto(senders, async () => {
    const { items } = await api('GET', '/sender-routes');
    return table('Sender routes', [
      { label: 'Sender', class: 'wrap', cell: r => r.sender },
      { label: 'Pool', cell: r => r.pool },
      { label: 'Actions', cell: r => actionButton('Delete', shell, async () => {
        await api('DELETE', `/sender-routes/${enc(r.sender)}`);
        await loadSenders();
        return `Sender route for ${r.sender} deleted.`;
      }, { danger: true, confirm: `Delete the sender route for ${r.sender}?`, accessibleName: `Delete sender route ${r.sender}` }) },
    ], items, 'No sender routes: every sender uses the default pool.');
  });
  const loadTransports = () => loadInto(transports, async () => {
    const { items } = await api('GET', '/transport-routes');
    return table('Transport routes', [
      { label: 'Recipient domain', cell: r => r.destination === '*' ? '* (relayhost: everything else)' : r.destination },
      { label: 'Next hop', class: 'wrap', cell: r => `${r.next_hop}:${r.port}` },
      { label: 'TLS', cell: r => r.require_tls ? 'required' : 'if offered' },
      { label: 'Login', cell: r => r.auth_username || '—' },
      { label: 'Actions', cell: r => actionButton('Delete', shell, async () => {
        await api('DELETE', `/transport-routes/${enc(r.destination)}`);
        await loadTransports();
        return `Transport route for ${r.destination} deleted.`;
      }, { danger: true, confirm: `Delete the transport route for ${r.destination}? Its mail goes to the MX hosts again.`,
        accessibleName: `Delete transport route ${r.destination}` }) },
    ], items, 'No transport routes: mail goes to each domain\'s MX hosts.');
  });
  try {
    ({ items: pools } = await api('GET', '/pools'));
  } catch (e) {
    pools = [];
  }
  const senderForm = buildForm([
    { name: 'sender', label: 'Sender address or domain', required: true, validate: senderCheck, maxlength: 320 },
    { name: 'pool', label: 'Pool', type: 'select', required: true, options: [{ value: '', label: 'Choose a pool' }, ...pools.map(p => ({ value: p.name }))] },
  ], async v => {
    await api('POST', '/sender-routes', v);
    await loadSenders();
    shell.ok(`Sender route for ${v.sender} added.`);
  }, { submitLabel: 'Add sender route', resetOnSuccess: true, label: 'Add a sender route' });
  const transportForm = buildForm([
    { name: 'destination', label: 'Recipient domain', required: true, validate: destCheck, maxlength: 253,
      hint: 'A domain, or * for a relayhost that takes all other outgoing mail.' },
    { name: 'next_hop', label: 'Next hop', required: true, maxlength: 253, hint: 'A host name or an IP address.' },
    { name: 'port', label: 'Port', required: true, value: '25', inputmode: 'numeric', validate: portCheck },
    { name: 'require_tls', label: 'Require TLS (never send in clear text)', type: 'checkbox' },
    { name: 'auth_username', label: 'Login name', maxlength: 256, autocomplete: 'off', hint: 'Optional: when the next hop wants a login.' },
    { name: 'password', label: 'Login password', type: 'password', autocomplete: 'new-password',
      validate: (v, all) => v && !all.auth_username ? 'Enter the login name too.' : '' },
  ], async v => {
    await api('POST', '/transport-routes', { ...compact(v), port: Number(v.port), require_tls: v.require_tls });
    await loadTransports();
    shell.ok(`Transport route for ${v.destination} added.`);
  }, { submitLabel: 'Add transport route', resetOnSuccess: true, label: 'Add a transport route' });
  main.append(
    section('routes-transport', 'Transport routes (by recipient domain)', transports, h('h3', null, 'Add a transport route'), transportForm),
    section('routes-sender', 'Sender routes (which pool)', senders, h('h3', null, 'Add a sender route'), senderForm));
  await Promise.all([loadSenders(), loadTransports()]);
}
