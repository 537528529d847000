// DNS and DKIM: the records a domain needs, a zone file to download, published-vs-expected
// status, and the domain's DKIM keys (generate, activate/deactivate, delete).
import { api } from '../api.js';
import { h, clear, table, timeEl, badge, enc } from '../dom.js';
import { buildForm, compact } from '../forms.js';
import { filterForm, domainOptions } from '../filters.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'DNS and DKIM';

export async function render(main, params) {
  const shell = pageShell(main, 'DNS and DKIM', 'What each domain must publish in DNS, and whether it does.');
  const opts = (await domainOptions(api, '')).filter(o => o.value);
  if (!opts.length) {
    main.append(h('p.empty', null, 'Add a domain first (Domains page).'));
    return;
  }
  const domain = params.get('domain') || opts[0].value;
  main.append(filterForm('dns', new URLSearchParams({ domain }), [{ name: 'domain', label: 'Domain', type: 'select', options: opts }]));

  const expected = h('div');
  const checked = h('div');
  const keys = h('div');
  const zoneLink = h('a.button-link', { href: `/api/v1/dns/${enc(domain)}/zone`, download: `${domain}.zone` },
    `Download the zone file of ${domain}`);
  const checkButton = actionButton('Check published records', shell, async () => {
    clear(checked).append(h('p', { role: 'status' }, 'Asking DNS…'));
    await loadInto(checked, async () => checkTable(await api('GET', `/dns/${enc(domain)}/check`)));
    return '';
  });
  checkButton.className = '';
  const loadKeys = () => loadInto(keys, async () => {
    const { items } = await api('GET', `/dkim?domain=${enc(domain)}`);
    return table(`DKIM keys of ${domain}`, [
      { label: 'Selector', cell: k => k.selector },
      { label: 'Algorithm', cell: k => k.algorithm },
      { label: 'State', cell: k => k.active ? badge('active', 'ok') : badge('inactive', 'off') },
      { label: 'Created', cell: k => timeEl(k.created_at) },
      { label: 'DNS record', class: 'wrap', cell: k => h('code.record', null, `${k.record.name} TXT "${k.record.value}"`) },
      { label: 'Actions', cell: k => h('div.row-actions', null,
        actionButton(k.active ? 'Deactivate' : 'Activate', shell, async () => {
          await api('PATCH', `/dkim/${enc(domain)}/${enc(k.selector)}`, { active: !k.active });
          await loadKeys();
          return `Key ${k.selector} ${k.active ? 'deactivated' : 'activated'}.`;
        }, k.active ? { danger: true, confirm: `Deactivate the DKIM key ${k.selector}? Mail from ${domain} is no longer signed with it.`,
          accessibleName: `Deactivate key ${k.selector}` } : { accessibleName: `Activate key ${k.selector}` }),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/dkim/${enc(domain)}/${enc(k.selector)}`);
          await loadKeys();
          return `Key ${k.selector} deleted.`;
        }, { danger: true, confirm: `Delete the DKIM key ${k.selector}? Remove its DNS record afterwards.`,
          accessibleName: `Delete key ${k.selector}` })) },
    ], items, `${domain} has no DKIM key: mail from it is sent unsigned. Generate one below.`);
  });
  const keyForm = buildForm([
    { name: 'selector', label: 'Selector', maxlength: 63, pattern: '[A-Za-z0-9][A-Za-z0-9\\-]*',
      patternMessage: 'Letters, digits and dashes only.', hint: 'Optional: the default is cartero plus the year.' },
    { name: 'algorithm', label: 'Algorithm', type: 'select', value: 'rsa',
      options: [{ value: 'rsa', label: 'RSA 2048 (understood everywhere)' }, { value: 'ed25519', label: 'Ed25519' }] },
  ], async values => {
    const k = await api('POST', '/dkim', { domain, ...compact(values) });
    await loadKeys();
    shell.ok(`Key ${k.selector} generated. Publish its DNS record.`);
  }, { submitLabel: 'Generate key', resetOnSuccess: true, label: 'Generate a DKIM key' });

  main.append(
    section('dns-expected', `Records for ${domain}`, h('p', null, zoneLink), expected),
    section('dns-check', 'Published in DNS', h('p', null, checkButton), checked),
    section('dns-dkim', 'DKIM keys', keys, h('h3', null, 'Generate a key'), keyForm));
  await Promise.all([
    loadInto(expected, async () => {
      const r = await api('GET', `/dns/${enc(domain)}`);
      return table(`Records ${domain} needs`, [
        { label: 'Name', class: 'wrap', cell: x => x.name },
        { label: 'Type', cell: x => x.type },
        { label: 'Value', class: 'wrap', cell: x => h('code.record', null, x.value) },
        { label: 'Needed', cell: x => x.required ? 'required' : 'recommended' },
        { label: 'Purpose', class: 'wrap', cell: x => x.purpose || '' },
      ], r.records || []);
    }),
    loadKeys(),
  ]);
}

function checkTable(r) {
  return h('div', null,
    h('p.summary', null, `${r.ok} fine, ${r.problems} problem(s), ${r.warnings} warning(s).`),
    table(`Published records of ${r.domain}`, [
      { label: 'Name', class: 'wrap', cell: x => x.name },
      { label: 'Type', cell: x => x.type },
      { label: 'State', cell: x => badge(x.state) },
      { label: 'Expected', class: 'wrap', cell: x => h('code.record', null, x.value) },
      { label: 'Found', class: 'wrap', cell: x => x.found ? h('code.record', null, x.found) : '—' },
    ], r.records || []));
}
