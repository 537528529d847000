// Mailboxes: quota bars, add, password reset, quota change, enable/disable, delete.
import { api, qs } from '../api.js';
import { h, table, fmtBytes, badge, enc } from '../dom.js';
import { buildForm, check, compact } from '../forms.js';
import { formDialog } from '../dialogs.js';
import { filterForm, domainOptions } from '../filters.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Mailboxes';

export async function render(main, params) {
  const shell = pageShell(main, 'Mailboxes', 'Mailboxes people log in to with IMAP or POP3.');
  const domain = params.get('domain') || '';
  const list = h('div');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', `/mailboxes${qs({ domain })}`);
    return table(domain ? `Mailboxes of ${domain}` : 'All mailboxes', [
      { label: 'Address', cell: m => m.address },
      { label: 'State', cell: m => m.enabled ? badge('enabled', 'ok') : badge('disabled', 'off') },
      { label: 'Quota use', class: 'quota', cell: quotaCell },
      { label: 'Messages', class: 'num', cell: m => m.used_messages },
      { label: 'Actions', cell: m => rowActions(shell, m, load) },
    ], items, domain ? `No mailboxes in ${domain} yet.` : 'No mailboxes yet.');
  });
  const opts = await domainOptions(api);
  const form = buildForm([
    { name: 'address', label: 'Address', required: true, inputmode: 'email', maxlength: 320, validate: check.address,
      autocomplete: 'off', value: domain ? `@${domain}` : '', hint: 'The domain must already be on the Domains page.' },
    { name: 'password', label: 'Password', type: 'password', required: true, validate: check.password,
      autocomplete: 'new-password', hint: 'At least 8 characters. It is never shown again.' },
    { name: 'quota', label: 'Quota', validate: check.quota, placeholder: '1G',
      hint: 'A size like 500M or 2G; empty or 0 = unlimited.' },
    { name: 'enabled', label: 'Enabled (can receive mail and log in)', type: 'checkbox', value: true },
  ], async values => {
    const m = await api('POST', '/mailboxes', compact(values));
    await load();
    shell.ok(`Mailbox ${m.address} created.`);
  }, { submitLabel: 'Create mailbox', resetOnSuccess: true, label: 'Create a mailbox' });
  main.append(
    filterForm('mailboxes', params, [{ name: 'domain', label: 'Domain', type: 'select', options: opts }]),
    section('mb-list', 'Mailboxes', list),
    section('mb-add', 'Create a mailbox', form));
  await load();
}

function quotaCell(m) {
  const used = fmtBytes(m.used_bytes);
  if (!m.quota_bytes) return h('span', null, `${used} (no limit)`);
  const pct = Math.min(100, Math.round((m.used_bytes / m.quota_bytes) * 100));
  return h('div.quota-cell', null,
    h('meter', { min: 0, max: m.quota_bytes, low: m.quota_bytes * 0.8, high: m.quota_bytes * 0.95,
      optimum: 0, value: Math.min(m.used_bytes, m.quota_bytes), 'aria-label': `Quota use of ${m.address}: ${pct}%` }),
    h('span', null, `${used} of ${fmtBytes(m.quota_bytes)} (${pct}%)`));
}

function rowActions(shell, m, load) {
  const path = `/mailboxes/${enc(m.address)}`;
  return h('div.row-actions', null,
    actionButton('Reset password', shell, async () => {
      const done = await formDialog(`New password for ${m.address}`, [
        { name: 'password', label: 'New password', type: 'password', required: true, validate: check.password,
          autocomplete: 'new-password', hint: 'At least 8 characters.' },
      ], values => api('PATCH', path, values), 'Set password');
      return done ? `Password of ${m.address} changed.` : '';
    }, { accessibleName: `Reset the password of ${m.address}` }),
    actionButton('Quota', shell, async () => {
      const done = await formDialog(`Quota of ${m.address}`, [
        { name: 'quota', label: 'Quota', required: true, validate: check.quota, value: m.quota_bytes ? fmtQuota(m.quota_bytes) : '0',
          hint: 'A size like 500M or 2G; 0 = unlimited.' },
      ], values => api('PATCH', path, values), 'Set quota');
      if (!done) return '';
      await load();
      return `Quota of ${m.address} changed.`;
    }, { accessibleName: `Change the quota of ${m.address}` }),
    m.enabled
      ? actionButton('Disable', shell, async () => {
        await api('PATCH', path, { enabled: false });
        await load();
        return `${m.address} disabled: it no longer receives mail or logs in.`;
      }, { danger: true, confirm: `Disable ${m.address}? Mail to it will be refused and its user cannot log in.`,
        accessibleName: `Disable ${m.address}` })
      : actionButton('Enable', shell, async () => {
        await api('PATCH', path, { enabled: true });
        await load();
        return `${m.address} enabled.`;
      }, { accessibleName: `Enable ${m.address}` }),
    actionButton('Delete', shell, async () => {
      await api('DELETE', path);
      await load();
      return `Mailbox ${m.address} deleted (its mail stays on disk).`;
    }, { danger: true, confirm: `Delete the mailbox ${m.address}? Mail to it will be refused. Stored mail stays on disk.`,
      accessibleName: `Delete mailbox ${m.address}` }));
}

function fmtQuota(b) {
  for (const [u, n] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]]) if (b % n === 0) return `${b / n}${u}`;
  return String(b);
}
