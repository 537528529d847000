// Login: username and password; the TOTP code field appears when the server asks for it.
// Wrong passwords answer 401 at the password field; a lockout (429) says how long it lasts.
import { api, ApiError } from '../api.js';
import { h, fmtDuration } from '../dom.js';
import { buildForm, showServerError } from '../forms.js';
import { session } from '../session.js';

export const title = 'Log in';

export function render(main, { onLogin }) {
  const notice = session.notice ? h('p.notice', { role: 'status' }, session.notice) : null;
  session.notice = '';
  const form = buildForm([
    { name: 'username', label: 'Username', required: true, autocomplete: 'username', maxlength: 64 },
    { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
    { name: 'totp', label: 'Authenticator code', required: true, hidden: true, autocomplete: 'one-time-code',
      inputmode: 'numeric', pattern: '[0-9]{6}', patternMessage: 'Enter the 6 digits from your authenticator app.',
      hint: 'Two-factor login is on for this account: enter the code your authenticator app shows.' },
  ], async values => {
    try {
      const who = await api('POST', '/session', values, { quiet401: true });
      onLogin(who);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (e.status === 401 && e.field === 'totp') {
        const row = form.querySelector('[name="totp"]').closest('.field');
        if (row.hidden) {
          row.hidden = false;
          form.querySelector('[name="totp"]').focus();
          return;
        }
      }
      if (e.status === 429) {
        const wait = e.retryAfter ? ` Try again in ${fmtDuration(e.retryAfter)}.` : '';
        showServerError(form, new ApiError(429, `Too many failed logins: this account or address is locked for a while.${wait}`, ''));
        form.classList.add('locked');
        return;
      }
      throw e;
    }
  }, { submitLabel: 'Log in', label: 'Log in' });
  main.append(h('section.login', { 'aria-labelledby': 'login-title' },
    h('h1#login-title', null, 'Log in to Cartero'), notice, form));
  form.querySelector('[name="username"]').focus();
}
