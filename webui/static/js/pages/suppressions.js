// Suppression list: addresses carterod no longer sends to (hard bounces, complaints, by hand).
import { api } from '../api.js';
import { h, table, timeEl, enc } from '../dom.js';
import { buildForm, check, compact } from '../forms.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Suppressions';

export async function render(main) {
  const shell = pageShell(main, 'Suppression list', 'Addresses that outgoing mail is no longer sent to.');
  const list = h('div');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', '/suppressions?limit=1000');
    return table('Suppressed addresses', [
      { label: 'Address', class: 'wrap', cell: s => s.address },
      { label: 'Reason', class: 'wrap', cell: s => [s.reason, s.bounce_class].filter(Boolean).join(' · ') || '—' },
      { label: 'Since', cell: s => timeEl(s.created_at) },
      { label: 'Actions', cell: s => actionButton('Remove', shell, async () => {
        await api('DELETE', `/suppressions/${enc(s.address)}`);
        await load();
        return `${s.address} removed: mail to it is sent again.`;
      }, { danger: true, confirm: `Remove ${s.address} from the suppression list? Mail to it will be sent again.`,
        accessibleName: `Remove ${s.address}` }) },
    ], items, 'No address is suppressed.');
  });
  const form = buildForm([
    { name: 'address', label: 'Address', required: true, validate: check.address, maxlength: 320, inputmode: 'email' },
    { name: 'reason', label: 'Reason', maxlength: 200, hint: 'Optional: why (for example "asked to be removed").' },
  ], async values => {
    await api('POST', '/suppressions', compact(values));
    await load();
    shell.ok(`${values.address} suppressed.`);
  }, { submitLabel: 'Suppress address', resetOnSuccess: true, label: 'Suppress an address' });
  main.append(section('sup-list', 'Suppressed addresses', list), section('sup-add', 'Suppress an address', form));
  await load();
}
