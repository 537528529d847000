// Reputation: each own IP against the enabled DNSBL zones, and whether its PTR is
// forward-confirmed; plus the PTR records to ask the IP owners for.
import { api } from '../api.js';
import { h, clear, table, badge } from '../dom.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Reputation';

export async function render(main) {
  const shell = pageShell(main, 'Reputation', 'How receiving servers see this appliance\'s IP addresses.');
  const result = h('div');
  const ptr = h('div');
  const check = async () => {
    clear(result).append(h('p', { role: 'status' }, 'Asking DNS (up to a few seconds per lookup)…'));
    await loadInto(result, async () => {
      const { items } = await api('GET', '/reputation');
      return table('Own IP addresses', [
        { label: 'Address', cell: i => i.address },
        { label: 'Host name', class: 'wrap', cell: i => i.hostname || '—' },
        { label: 'PTR', cell: i => h('span', null, badge(i.ptr.state), i.ptr.found ? ` ${i.ptr.found}` : '') },
        { label: 'Blocklists', class: 'wrap', cell: i => i.dnsbl.length
          ? h('ul.plain', null, i.dnsbl.map(z => h('li', null, badge(z.state === 'not listed' ? 'clean' : z.state,
            z.state === 'listed' ? 'failed' : z.state === 'error' ? 'deferred' : 'ok'), ` ${z.zone}`, z.answer ? ` (${z.answer})` : '')))
          : 'no DNSBL zone enabled (Spam filters page)' },
      ], items, 'No IP address is configured (IPs and pools page): nothing to check.');
    });
  };
  const again = actionButton('Check again', shell, async () => { await check(); return ''; });
  again.className = '';
  main.append(
    section('rep-ips', 'Blocklists and reverse DNS', h('p', null, again), result),
    section('rep-ptr', 'Reverse DNS (PTR) to request from the IP owners', ptr));
  await Promise.all([check(), loadInto(ptr, async () => {
    const { items } = await api('GET', '/dns-ptr');
    return table('PTR records', [
      { label: 'Name', class: 'wrap', cell: r => r.name },
      { label: 'Type', cell: r => r.type },
      { label: 'Value', class: 'wrap', cell: r => h('code.record', null, r.value) },
    ], items, 'No PTR records are needed (no IP address is configured).');
  })]);
}
