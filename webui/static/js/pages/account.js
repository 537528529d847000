// Account: change the admin's own password; turn the TOTP second factor on or off.
import { api } from '../api.js';
import { h, clear } from '../dom.js';
import { buildForm } from '../forms.js';
import { session } from '../session.js';
import { pageShell, section } from '../page.js';

export const title = 'Account';

export async function render(main) {
  const shell = pageShell(main, `Account: ${session.user.username}`);
  const pw = buildForm([
    { name: 'current_password', label: 'Current password', type: 'password', required: true, autocomplete: 'current-password' },
    { name: 'new_password', label: 'New password', type: 'password', required: true, autocomplete: 'new-password',
      validate: v => v.length >= 8 ? '' : 'Use at least 8 characters.' },
    { name: 'repeat', label: 'New password again', type: 'password', required: true, autocomplete: 'new-password',
      validate: (v, all) => v === all.new_password ? '' : 'The two new passwords differ.' },
  ], async v => {
    await api('POST', '/account/password', { current_password: v.current_password, new_password: v.new_password });
    shell.ok('Password changed. Other sessions of this account were logged out.');
  }, { submitLabel: 'Change password', resetOnSuccess: true, label: 'Change password' });
  const totp = h('div');
  main.append(section('acct-pw', 'Password', pw), section('acct-totp', 'Two-factor login (TOTP)', totp));
  const who = await api('GET', '/session');
  fillTotp(totp, shell, who.totp_enabled);
}

function fillTotp(box, shell, enabled) {
  clear(box);
  if (enabled) {
    box.append(h('p', null, 'Two-factor login is on: logging in needs a code from your authenticator app.'),
      buildForm([{ name: 'code', label: 'Current code', required: true, inputmode: 'numeric', pattern: '[0-9]{6}',
        patternMessage: 'Enter the 6 digits from your authenticator app.', autocomplete: 'one-time-code' }],
      async v => {
        await api('DELETE', '/account/totp', v);
        shell.ok('Two-factor login is off.');
        fillTotp(box, shell, false);
      }, { submitLabel: 'Turn two-factor login off', label: 'Turn two-factor login off' }));
    return;
  }
  const start = h('button', { type: 'button' }, 'Turn two-factor login on');
  start.addEventListener('click', async () => {
    const r = await api('POST', '/account/totp').catch(e => { shell.error(e.message); return null; });
    if (!r) return;
    clear(box);
    box.append(
      h('p', null, 'Add this account to your authenticator app with the secret below (or the otpauth link), then enter the code it shows.'),
      h('dl.details', null,
        h('div', null, h('dt', null, 'Secret'), h('dd', null, h('code#totp-secret', null, r.secret))),
        h('div', null, h('dt', null, 'Link'), h('dd', null, h('a', { href: r.uri }, 'otpauth link')))),
      buildForm([{ name: 'code', label: 'Code from the app', required: true, inputmode: 'numeric', pattern: '[0-9]{6}',
        patternMessage: 'Enter the 6 digits from your authenticator app.', autocomplete: 'one-time-code' }],
      async v => {
        await api('POST', '/account/totp/confirm', v);
        shell.ok('Two-factor login is on.');
        fillTotp(box, shell, true);
      }, { submitLabel: 'Confirm and turn on', label: 'Confirm two-factor login' }));
    box.querySelector('input').focus();
  });
  box.append(h('p', null, 'Two-factor login is off.'), start);
}
