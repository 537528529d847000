// Destination pacing: connection and rate limits per destination pattern.
import { api } from '../api.js';
import { h, table, enc } from '../dom.js';
import { buildForm } from '../forms.js';
import { formDialog } from '../dialogs.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Pacing';

const LIMITS = [
  { name: 'max_connections', label: 'Connections at once', max: 1000 },
  { name: 'messages_per_minute', label: 'Messages per minute', max: 1000000 },
  { name: 'messages_per_connection', label: 'Messages per connection', max: 100000 },
];

const limitCheck = max => v => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= max ? '' : `Enter a number from 1 to ${max}, or leave it empty for the default.`;

function fields(item) {
  return [
    ...LIMITS.map(l => ({ name: l.name, label: l.label, inputmode: 'numeric', validate: limitCheck(l.max),
      value: item?.[l.name] ?? '', hint: `1–${l.max}; empty = the default.` })),
    { name: 'note', label: 'Note', maxlength: 200, value: item?.note ?? '', hint: 'Optional: why this limit exists.' },
  ];
}

function body(v) {
  const out = { note: v.note };
  for (const l of LIMITS) out[l.name] = v[l.name] === '' ? null : Number(v[l.name]);
  return out;
}

const atLeastOne = (v, all) => LIMITS.some(l => all[l.name] !== '') ? '' : 'Set at least one limit.';

export async function render(main) {
  const shell = pageShell(main, 'Destination pacing', 'Limits for how fast mail is sent to receiving servers that ask for it.');
  const list = h('div');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', '/pacing');
    return table('Pacing rules', [
      { label: 'Destination', class: 'wrap', cell: p => p.pattern },
      ...LIMITS.map(l => ({ label: l.label, class: 'num', cell: p => p[l.name] ?? 'default' })),
      { label: 'Note', class: 'wrap', cell: p => p.note || '' },
      { label: 'Actions', cell: p => h('div.row-actions', null,
        actionButton('Edit', shell, async () => {
          const f = fields(p);
          f[0].validate = (v, all) => (v !== '' && limitCheck(LIMITS[0].max)(v)) || atLeastOne(v, all);
          f[0].alwaysValidate = true;
          const done = await formDialog(`Pacing for ${p.pattern}`, f, v => api('PUT', `/pacing/${enc(p.pattern)}`, body(v)));
          if (!done) return '';
          await load();
          return `Pacing for ${p.pattern} saved.`;
        }, { accessibleName: `Edit pacing for ${p.pattern}` }),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/pacing/${enc(p.pattern)}`);
          await load();
          return `Pacing for ${p.pattern} deleted.`;
        }, { danger: true, confirm: `Delete the pacing rule for ${p.pattern}? The default limits apply again.`,
          accessibleName: `Delete pacing for ${p.pattern}` })) },
    ], items, 'No pacing rules: the default limits apply everywhere.');
  });
  const f = [{ name: 'pattern', label: 'Destination', required: true, maxlength: 253,
    pattern: '(\\*\\.)?[A-Za-z0-9.\\-]+', patternMessage: 'A domain like example.com or *.example.com.',
    hint: 'A recipient domain, or *.example.com for all its subdomains.' }, ...fields(null)];
  f[1].validate = (v, all) => (v !== '' && limitCheck(LIMITS[0].max)(v)) || atLeastOne(v, all);
  f[1].alwaysValidate = true;
  const form = buildForm(f, async v => {
    await api('POST', '/pacing', { pattern: v.pattern, ...body(v) });
    await load();
    shell.ok(`Pacing for ${v.pattern} added.`);
  }, { submitLabel: 'Add pacing rule', resetOnSuccess: true, label: 'Add a pacing rule' });
  main.append(section('pacing-list', 'Pacing rules', list), section('pacing-add', 'Add a pacing rule', form));
  await load();
}
