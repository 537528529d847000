// Autoresponders: one per mailbox, with dates, a resend interval and a live preview of the
// reply. PUT creates or replaces, so the same form adds and edits.
import { api } from '../api.js';
import { h, clear, table, badge, enc } from '../dom.js';
import { buildForm } from '../forms.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Autoresponders';

const isoDay = t => (t ? new Date(t * 1000).toISOString().slice(0, 10) : '');
const dayText = t => (t ? `${isoDay(t)} ${new Date(t * 1000).toISOString().slice(11, 16)} UTC` : 'open');
const days = v => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 365 ? '' : 'Enter a number of days from 1 to 365.';

export async function render(main) {
  const shell = pageShell(main, 'Autoresponders', 'Automatic replies ("out of office") for a mailbox, between two dates.');
  const list = h('div');
  const { items: mailboxes } = await api('GET', '/mailboxes');
  const load = () => loadInto(list, async () => {
    const { items } = await api('GET', '/autoresponders');
    return table('Autoresponders', [
      { label: 'Mailbox', class: 'wrap', cell: a => a.mailbox },
      { label: 'State', cell: a => !a.enabled ? badge('off', 'off') : a.active_now ? badge('replying now', 'ok') : badge('scheduled', 'queued') },
      { label: 'From', cell: a => dayText(a.start_at) },
      { label: 'Until', cell: a => dayText(a.end_at) },
      { label: 'Once per sender every', class: 'num', cell: a => `${a.interval_days} day(s)` },
      { label: 'Subject', class: 'wrap', cell: a => a.subject || 'Auto: (original subject)' },
      { label: 'Actions', cell: a => h('div.row-actions', null,
        actionButton('Edit', shell, async () => { edit(a); return ''; }, { accessibleName: `Edit the autoresponder of ${a.mailbox}` }),
        actionButton('Delete', shell, async () => {
          await api('DELETE', `/autoresponders/${enc(a.mailbox)}`);
          await load();
          return `Autoresponder of ${a.mailbox} deleted.`;
        }, { danger: true, confirm: `Delete the autoresponder of ${a.mailbox}? It stops replying at once.`,
          accessibleName: `Delete the autoresponder of ${a.mailbox}` })) },
    ], items, 'No autoresponders.');
  });

  if (!mailboxes.length) {
    main.append(section('ar-list', 'Autoresponders', list), h('p.empty', null, 'Create a mailbox first (Mailboxes page).'));
    await load();
    return;
  }
  const form = buildForm([
    { name: 'mailbox', label: 'Mailbox', type: 'select', required: true, options: mailboxes.map(m => ({ value: m.address })) },
    { name: 'enabled', label: 'Reply automatically', type: 'checkbox', value: true },
    { name: 'subject', label: 'Subject', maxlength: 900, hint: 'Optional: empty means "Auto: " and the subject of the message answered.' },
    { name: 'body_text', label: 'Message', type: 'textarea', rows: 6, required: true, maxlength: 60000 },
    { name: 'start_at', label: 'First day (UTC)', type: 'date', hint: 'Optional: empty = from now.' },
    { name: 'end_at', label: 'Last day (UTC)', type: 'date', hint: 'Optional: empty = until turned off.',
      validate: (v, all) => v && all.start_at && v < all.start_at ? 'The last day is before the first day.' : '' },
    { name: 'interval_days', label: 'Reply to the same sender at most every … days', value: '7', inputmode: 'numeric', required: true, validate: days },
  ], async v => {
    const body = { enabled: v.enabled, subject: v.subject, body_text: v.body_text,
      start_at: v.start_at || null, end_at: v.end_at || null, interval_days: Number(v.interval_days) };
    const a = await api('PUT', `/autoresponders/${enc(v.mailbox)}`, body);
    await load();
    shell.ok(`Autoresponder of ${a.mailbox} saved${a.active_now ? ': it is replying now' : ''}.`);
  }, { submitLabel: 'Save autoresponder', label: 'Set an autoresponder' });

  const preview = h('div.preview', { 'aria-live': 'polite' });
  const showPreview = () => {
    const f = name => form.elements.namedItem(name);
    clear(preview).append(
      h('p', null, h('strong', null, 'From: '), f('mailbox').value),
      h('p', null, h('strong', null, 'Subject: '), f('subject').value.trim() || 'Auto: (subject of the message answered)'),
      h('p', null, h('strong', null, 'Auto-Submitted: '), 'auto-replied'),
      h('pre.preview-body', null, f('body_text').value || '(the message)'),
      h('p.hint', null, f('enabled').checked
        ? `Sent ${f('start_at').value ? `from ${f('start_at').value}` : 'from now'} ${f('end_at').value ? `until ${f('end_at').value} (end of day, UTC)` : 'until turned off'}, at most once every ${f('interval_days').value || '?'} day(s) per sender.`
        : 'Turned off: no replies are sent.'));
  };
  form.addEventListener('input', showPreview);
  form.addEventListener('change', showPreview);
  showPreview();

  function edit(a) {
    const f = name => form.elements.namedItem(name);
    f('mailbox').value = a.mailbox;
    f('enabled').checked = a.enabled;
    f('subject').value = a.subject;
    f('body_text').value = a.body_text;
    f('start_at').value = isoDay(a.start_at);
    f('end_at').value = isoDay(a.end_at);
    f('interval_days').value = String(a.interval_days);
    showPreview();
    f('body_text').focus();
  }

  main.append(section('ar-list', 'Autoresponders', list),
    section('ar-set', 'Set an autoresponder', h('div.split', null, form,
      h('div', null, h('h3', null, 'Preview of the reply'), preview))));
  await load();
}
