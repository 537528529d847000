// Spam filters: thresholds (global and per domain, inheriting), rules, allow/block lists and
// DNSBL/DNSWL zones.
import { api } from '../api.js';
import { h, table, badge, enc } from '../dom.js';
import { buildForm, compact } from '../forms.js';
import { pageShell, section, actionButton, loadInto } from '../page.js';

export const title = 'Spam filters';

const num = (min, max) => v => /^-?\d+(\.\d+)?$/.test(v) && Number(v) >= min && Number(v) <= max ? '' : `Enter a number from ${min} to ${max}.`;
const ACTIONS = [{ value: '', label: 'inherit' }, { value: 'reject' }, { value: 'junk', label: 'junk folder' }, { value: 'none', label: 'deliver' }];
const orNull = v => (v === '' ? null : Number(v));
const show = v => (v === null || v === undefined ? 'inherit' : String(v));

export async function render(main) {
  const shell = pageShell(main, 'Spam filters', 'How incoming mail is scored, tagged, sent to Junk or refused.');
  const { items: domains } = await api('GET', '/domains');
  const settings = h('div');
  const rules = h('div');
  const lists = h('div');
  const zones = h('div');

  const loadSettings = () => loadInto(settings, async () => {
    const s = await api('GET', '/spam/settings');
    const eff = s.global_effective || {};
    return h('div', null,
      h('p', null, `In force globally: tag from ${eff.tag_threshold}, Junk from ${eff.junk_threshold}, refuse from ${eff.reject_threshold}; `,
        `DMARC reject → ${eff.dmarc_reject_action}, quarantine → ${eff.dmarc_quarantine_action}; filtering ${eff.enabled ? 'on' : 'off'}.`),
      table('Stored settings (empty = inherited)', [
        { label: 'Scope', cell: r => r.domain || 'global' },
        { label: 'Filtering', cell: r => r.enabled === null ? 'inherit' : r.enabled ? 'on' : 'off' },
        { label: 'Tag', class: 'num', cell: r => show(r.tag_threshold) },
        { label: 'Junk', class: 'num', cell: r => show(r.junk_threshold) },
        { label: 'Refuse', class: 'num', cell: r => show(r.reject_threshold) },
        { label: 'DMARC reject', cell: r => show(r.dmarc_reject_action) },
        { label: 'DMARC quarantine', cell: r => show(r.dmarc_quarantine_action) },
        { label: 'In force', cell: r => r.effective ? `${r.effective.tag_threshold} / ${r.effective.junk_threshold} / ${r.effective.reject_threshold}` : '' },
      ], s.items || [], 'Nothing stored: the built-in defaults apply.'));
  });
  const settingsForm = buildForm([
    { name: 'scope', label: 'Applies to', type: 'select', options: [{ value: '', label: 'all domains (global)' }, ...domains.map(d => ({ value: d.name }))] },
    { name: 'enabled', label: 'Filtering', type: 'select', options: [{ value: '', label: 'inherit' }, { value: 'true', label: 'on' }, { value: 'false', label: 'off' }] },
    { name: 'tag_threshold', label: 'Tag the subject from score', validate: num(-1000, 1000), inputmode: 'decimal', hint: 'Empty = inherit.' },
    { name: 'junk_threshold', label: 'Deliver to Junk from score', validate: num(-1000, 1000), inputmode: 'decimal', hint: 'Empty = inherit.' },
    { name: 'reject_threshold', label: 'Refuse from score', inputmode: 'decimal', hint: 'Empty = inherit.',
      validate: (v, all) => num(-1000, 1000)(v) || ([all.tag_threshold, all.junk_threshold, v].filter(x => x !== '').map(Number)
        .every((x, i, a) => i === 0 || a[i - 1] <= x) ? '' : 'Scores must grow: tag ≤ Junk ≤ refuse.') },
    { name: 'dmarc_reject_action', label: 'When DMARC says reject', type: 'select', options: ACTIONS },
    { name: 'dmarc_quarantine_action', label: 'When DMARC says quarantine', type: 'select', options: ACTIONS },
  ], async v => {
    const body = { enabled: v.enabled === '' ? null : v.enabled === 'true', tag_threshold: orNull(v.tag_threshold),
      junk_threshold: orNull(v.junk_threshold), reject_threshold: orNull(v.reject_threshold),
      dmarc_reject_action: v.dmarc_reject_action || null, dmarc_quarantine_action: v.dmarc_quarantine_action || null };
    await api('PUT', v.scope ? `/spam/settings/${enc(v.scope)}` : '/spam/settings', body);
    await loadSettings();
    shell.ok(`Spam settings for ${v.scope || 'all domains'} saved.`);
  }, { submitLabel: 'Save settings', label: 'Spam thresholds' });

  const loadRules = () => loadInto(rules, async () => {
    const { items } = await api('GET', '/spam/rules');
    return table('Rules', [
      { label: 'Name', cell: r => r.name },
      { label: 'Looks at', cell: r => r.target === 'header' ? `header ${r.header_name}` : 'body' },
      { label: 'Pattern (RE2)', class: 'wrap', cell: r => h('code', null, r.pattern) },
      { label: 'Score', class: 'num', cell: r => r.score },
      { label: 'State', cell: r => r.enabled ? badge('on', 'ok') : badge('off', 'off') },
      { label: 'Description', class: 'wrap', cell: r => r.description || '' },
      { label: 'Actions', cell: r => actionButton('Delete', shell, async () => {
        await api('DELETE', `/spam/rules/${enc(r.name)}`);
        await loadRules();
        return `Rule ${r.name} deleted.`;
      }, { danger: true, confirm: `Delete the rule ${r.name}?`, accessibleName: `Delete rule ${r.name}` }) },
    ], items, 'No rules of your own.');
  });
  const ruleForm = buildForm([
    { name: 'name', label: 'Name', required: true, maxlength: 64 },
    { name: 'target', label: 'Looks at', type: 'select', options: [{ value: 'header', label: 'a header' }, { value: 'body', label: 'the body' }] },
    { name: 'header_name', label: 'Header name', maxlength: 100, placeholder: 'Subject',
      validate: (v, all) => all.target === 'header' && !v ? 'Name the header (for example Subject).' : '', alwaysValidate: true },
    { name: 'pattern', label: 'Pattern', required: true, maxlength: 4096, hint: 'An RE2 regular expression, for example (?i)viagra.' },
    { name: 'score', label: 'Score', required: true, inputmode: 'decimal', validate: num(-100, 100), hint: 'From -100 to 100; negative scores make mail look less like spam.' },
    { name: 'description', label: 'Description', maxlength: 200 },
    { name: 'enabled', label: 'Rule is on', type: 'checkbox', value: true },
  ], async v => {
    const body = { ...compact(v), score: Number(v.score), enabled: v.enabled };
    if (v.target === 'body') delete body.header_name;
    await api('POST', '/spam/rules', body);
    await loadRules();
    shell.ok(`Rule ${v.name} added.`);
  }, { submitLabel: 'Add rule', resetOnSuccess: true, label: 'Add a spam rule' });

  const loadLists = () => loadInto(lists, async () => {
    const { items } = await api('GET', '/spam/lists');
    return table('Allow and block lists', [
      { label: 'List', cell: e => badge(e.list, e.list === 'allow' ? 'ok' : 'failed') },
      { label: 'Matches the', cell: e => e.direction },
      { label: 'Entry', class: 'wrap', cell: e => e.entry },
      { label: 'For', class: 'wrap', cell: e => e.scope === 'global' ? 'everyone' : `${e.scope} ${e.owner}` },
      { label: 'Actions', cell: e => actionButton('Delete', shell, async () => {
        await api('DELETE', '/spam/lists', { list: e.list, direction: e.direction, scope: e.scope, owner: e.owner, entry: e.entry });
        await loadLists();
        return `${e.entry} removed from the ${e.list} list.`;
      }, { danger: true, confirm: `Remove ${e.entry} from the ${e.list} list?`, accessibleName: `Remove ${e.entry} from the ${e.list} list` }) },
    ], items, 'The allow and block lists are empty.');
  });
  const listForm = buildForm([
    { name: 'list', label: 'List', type: 'select', options: [{ value: 'block' }, { value: 'allow' }] },
    { name: 'direction', label: 'Matches the', type: 'select', options: [{ value: 'sender' }, { value: 'recipient' }] },
    { name: 'entry', label: 'Entry', required: true, maxlength: 320, hint: 'An address, @domain, or (for senders) an IP address or CIDR range.' },
    { name: 'scope', label: 'For', type: 'select', options: [{ value: 'global', label: 'everyone' }, { value: 'domain', label: 'one domain' }, { value: 'mailbox', label: 'one mailbox' }] },
    { name: 'owner', label: 'Domain or mailbox', maxlength: 320, hint: 'Only when the entry is for one domain or mailbox.',
      validate: (v, all) => all.scope !== 'global' && !v ? `Name the ${all.scope}.` : '', alwaysValidate: true },
  ], async v => {
    await api('POST', '/spam/lists', compact(v));
    await loadLists();
    shell.ok(`${v.entry} added to the ${v.list} list.`);
  }, { submitLabel: 'Add entry', resetOnSuccess: true, label: 'Add an allow or block list entry' });

  const loadZones = () => loadInto(zones, async () => {
    const { items } = await api('GET', '/spam/dnsbl');
    return table('DNS blocklists and allowlists', [
      { label: 'Zone', class: 'wrap', cell: z => z.zone },
      { label: 'Kind', cell: z => z.list === 'allow' ? 'allowlist (DNSWL)' : 'blocklist (DNSBL)' },
      { label: 'Score', class: 'num', cell: z => z.weight },
      { label: 'Counts answers in', cell: z => z.match },
      { label: 'State', cell: z => z.enabled ? badge('on', 'ok') : badge('off', 'off') },
      { label: 'Actions', cell: z => actionButton('Delete', shell, async () => {
        await api('DELETE', `/spam/dnsbl/${enc(z.zone)}`);
        await loadZones();
        return `Zone ${z.zone} deleted.`;
      }, { danger: true, confirm: `Delete the zone ${z.zone}?`, accessibleName: `Delete zone ${z.zone}` }) },
    ], items, 'No DNSBL zones are queried.');
  });
  const zoneForm = buildForm([
    { name: 'zone', label: 'Zone', required: true, maxlength: 253, placeholder: 'zen.spamhaus.org' },
    { name: 'list', label: 'Kind', type: 'select', options: [{ value: 'block', label: 'blocklist (adds to the score)' }, { value: 'allow', label: 'allowlist (lowers the score)' }] },
    { name: 'weight', label: 'Score', inputmode: 'decimal', validate: num(-100, 100), hint: 'Optional: default 3 for a blocklist, -3 for an allowlist.' },
    { name: 'match', label: 'Counts answers in', maxlength: 64, placeholder: '127.0.0.0/8', hint: 'Optional: a CIDR range inside 127.0.0.0/8.' },
    { name: 'enabled', label: 'Zone is queried', type: 'checkbox', value: true },
  ], async v => {
    const body = compact(v);
    if (body.weight !== undefined) body.weight = Number(body.weight);
    await api('POST', '/spam/dnsbl', body);
    await loadZones();
    shell.ok(`Zone ${v.zone} added.`);
  }, { submitLabel: 'Add zone', resetOnSuccess: true, label: 'Add a DNSBL zone' });

  main.append(
    section('spam-settings', 'Thresholds', settings, h('h3', null, 'Change thresholds'), settingsForm),
    section('spam-rules', 'Rules', rules, h('h3', null, 'Add a rule'), ruleForm),
    section('spam-lists', 'Allow and block lists', lists, h('h3', null, 'Add an entry'), listForm),
    section('spam-dnsbl', 'DNSBL zones', zones, h('h3', null, 'Add a zone'), zoneForm));
  await Promise.all([loadSettings(), loadRules(), loadLists(), loadZones()]);
}
