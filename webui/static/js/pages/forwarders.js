// Forwarders: an address (or @domain catch-all) forwarded to one or more addresses.
import { api, qs } from '../api.js';
import { h, table, enc } from '../dom.js';
import { buildForm, check, splitList } from '../forms.js';
import { formDialog } from '../dialogs.js';
import { filterForm, domainOptions } from '../filters.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Forwarders';

export async function render(main, params) {
  const shell = pageShell(main, 'Forwarders', 'Addresses whose mail is passed on to other addresses.');
  const domain = params.get('domain') || '';
  const list = h('div');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', `/forwarders${qs({ domain })}`);
    return table(domain ? `Forwarders of ${domain}` : 'All forwarders', [
      { label: 'Address', cell: f => f.source.startsWith('@') ? `${f.source} (catch-all)` : f.source },
      { label: 'Forwarded to', cell: f => h('ul.plain', null, f.destinations.map(d => h('li', null, d))) },
      { label: 'Actions', cell: f => h('div.row-actions', null,
        actionButton('Edit', shell, async () => {
          const done = await formDialog(`Destinations of ${f.source}`, [
            { name: 'destinations', label: 'Forward to', type: 'textarea', required: true, validate: check.addressList,
              value: f.destinations.join('\n'), hint: 'One address per line.' },
          ], v => api('PUT', `/forwarders/${enc(f.source)}`, { destinations: splitList(v.destinations) }), 'Save');
          if (!done) return '';
          await load();
          return `Forwarder ${f.source} saved.`;
        }, { accessibleName: `Edit forwarder ${f.source}` }),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/forwarders/${enc(f.source)}`);
          await load();
          return `Forwarder ${f.source} deleted.`;
        }, { danger: true, confirm: `Delete the forwarder ${f.source}?`, accessibleName: `Delete forwarder ${f.source}` })) },
    ], items, 'No forwarders yet.');
  });
  const opts = await domainOptions(api);
  const form = buildForm([
    { name: 'source', label: 'Address', required: true, maxlength: 320, validate: check.sourceAddress, inputmode: 'email',
      value: domain ? `@${domain}` : '', hint: 'For example sales@example.org; @example.org forwards every address of the domain that has no mailbox.' },
    { name: 'destinations', label: 'Forward to', type: 'textarea', required: true, validate: check.addressList,
      hint: 'One or more addresses, one per line. Adding to an existing forwarder appends them.' },
  ], async values => {
    const f = await api('POST', '/forwarders', { source: values.source, destinations: splitList(values.destinations) });
    await load();
    shell.ok(`Forwarder ${f.source} saved.`);
  }, { submitLabel: 'Add forwarder', resetOnSuccess: true, label: 'Add a forwarder' });
  main.append(
    filterForm('forwarders', params, [{ name: 'domain', label: 'Domain', type: 'select', options: opts }]),
    section('fw-list', 'Forwarders', list),
    section('fw-add', 'Add a forwarder', form));
  await load();
}
