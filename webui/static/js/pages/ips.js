// Dedicated IPs and pools: which addresses send mail, in which pool, with which host name.
import { api } from '../api.js';
import { h, table, enc } from '../dom.js';
import { buildForm, check } from '../forms.js';
import { formDialog } from '../dialogs.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'IPs and pools';

const mxCheck = v => /^\d+$/.test(v) && Number(v) <= 65535 ? '' : 'Enter a number from 0 to 65535, or leave it empty.';
const hostCheck = v => /^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{1,63}\.?$/.test(v) ? '' : 'Enter a host name like mx1.example.org.';

export async function render(main) {
  const shell = pageShell(main, 'IPs and pools', 'The appliance\'s own addresses, grouped into pools that senders are routed to.');
  const ipList = h('div');
  const poolList = h('div');
  let pools = [];
  const poolOptions = () => [{ value: '', label: '(none: not used for sending)' }, ...pools.map(p => ({ value: p.name }))];
  const ipFields = ip => [
    { name: 'hostname', label: 'Host name', required: true, validate: hostCheck, value: ip?.hostname, maxlength: 253,
      hint: 'The name its PTR record must point to, used in HELO.' },
    { name: 'pool', label: 'Pool', type: 'select', options: poolOptions(), value: ip?.pool ?? 'default' },
    { name: 'mx_preference', label: 'MX preference', validate: mxCheck, inputmode: 'numeric',
      value: ip?.mx_preference ?? '', hint: 'Empty: this address is not an MX for incoming mail.' },
  ];
  const toBody = v => ({ hostname: v.hostname, pool: v.pool, mx_preference: v.mx_preference === '' ? null : Number(v.mx_preference) });

  const loadPools = () => loadInto(poolList, async () => {
    ({ items: pools } = await api('GET', '/pools'));
    return table('Pools', [
      { label: 'Pool', cell: p => p.name },
      { label: 'IPs', class: 'num', cell: p => p.ips },
      { label: 'Actions', cell: p => actionButton('Delete', shell, async () => {
        await api('DELETE', `/pools/${enc(p.name)}`);
        await loadPools();
        return `Pool ${p.name} deleted.`;
      }, { danger: true, confirm: `Delete the pool ${p.name}?`, accessibleName: `Delete pool ${p.name}` }) },
    ], pools, 'No pools yet.');
  });
  const loadIps = () => loadInto(ipList, async () => {
    const { items } = await api('GET', '/ips');
    return table('IP addresses', [
      { label: 'Address', cell: i => i.address },
      { label: 'Family', cell: i => `IPv${i.family}` },
      { label: 'Host name', class: 'wrap', cell: i => i.hostname },
      { label: 'Pool', cell: i => i.pool || '—' },
      { label: 'MX preference', class: 'num', cell: i => i.mx_preference ?? '—' },
      { label: 'Actions', cell: i => h('div.row-actions', null,
        actionButton('Edit', shell, async () => {
          const done = await formDialog(`Edit ${i.address}`, ipFields(i), v => api('PUT', `/ips/${enc(i.address)}`, toBody(v)));
          if (!done) return '';
          await Promise.all([loadIps(), loadPools()]);
          return `${i.address} saved.`;
        }, { accessibleName: `Edit ${i.address}` }),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/ips/${enc(i.address)}`);
          await Promise.all([loadIps(), loadPools()]);
          return `${i.address} deleted.`;
        }, { danger: true, confirm: `Delete the IP address ${i.address}? Mail no longer leaves from it.`,
          accessibleName: `Delete ${i.address}` })) },
    ], items, 'No IP addresses yet.');
  });
  await loadPools();
  const poolForm = buildForm([
    { name: 'name', label: 'Pool name', required: true, maxlength: 64, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*',
      patternMessage: 'Letters, digits, dots, dashes and underscores.' },
  ], async v => {
    await api('POST', '/pools', v);
    await loadPools();
    shell.ok(`Pool ${v.name} added.`);
  }, { submitLabel: 'Add pool', resetOnSuccess: true, label: 'Add a pool' });
  const addIp = h('button', { type: 'button' }, 'Add an IP address');
  addIp.addEventListener('click', async () => {
    const done = await formDialog('Add an IP address', [
      { name: 'address', label: 'Address', required: true, validate: check.ip, maxlength: 45 }, ...ipFields(null),
    ], v => api('POST', '/ips', { address: v.address, ...toBody(v) }), 'Add');
    if (!done) return;
    await Promise.all([loadIps(), loadPools()]);
    shell.ok(`${done.address} added.`);
  });
  main.append(
    section('ips-list', 'IP addresses', h('p', null, addIp), ipList),
    section('pools-list', 'Pools', poolList, h('h3', null, 'Add a pool'), poolForm));
  await loadIps();
}
