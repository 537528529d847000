// Domains: list with mailbox and forwarder counts, add, delete (refused while in use).
import { api } from '../api.js';
import { h, table, timeEl, enc } from '../dom.js';
import { buildForm, check } from '../forms.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Domains';

export async function render(main) {
  const shell = pageShell(main, 'Domains', 'The mail domains this appliance receives mail for.');
  const list = h('div');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', '/domains');
    return table('Domains', [
      { label: 'Domain', cell: d => d.name },
      { label: 'Mailboxes', class: 'num', cell: d => h('a', { href: `#/mailboxes?domain=${enc(d.name)}` }, d.mailboxes) },
      { label: 'Forwarders', class: 'num', cell: d => h('a', { href: `#/forwarders?domain=${enc(d.name)}` }, d.forwarders) },
      { label: 'Added', cell: d => timeEl(d.created_at) },
      { label: 'Actions', cell: d => h('div.row-actions', null,
        h('a.button-link.small', { href: `#/dns?domain=${enc(d.name)}` }, 'DNS records'),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/domains/${enc(d.name)}`);
          await load();
          return `Domain ${d.name} deleted.`;
        }, { danger: true, confirm: `Delete the domain ${d.name}? Mail for it will no longer be accepted.`,
          accessibleName: `Delete domain ${d.name}` })) },
    ], items, 'No domains yet: add the first one below.');
  });
  const form = buildForm([
    { name: 'name', label: 'Domain name', required: true, maxlength: 253, validate: check.domain,
      hint: 'For example example.org. International names are fine.' },
  ], async values => {
    const d = await api('POST', '/domains', values);
    await load();
    shell.ok(`Domain ${d.name} added. Publish its DNS records next (DNS and DKIM page).`);
  }, { submitLabel: 'Add domain', resetOnSuccess: true, label: 'Add a domain' });
  main.append(section('domains-list', 'All domains', list), section('domains-add', 'Add a domain', form));
  await load();
}
