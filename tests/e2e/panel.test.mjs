// The panel in a real browser: playwright-core drives Debian's chromium against cartero-panel
// and carterod on loopback (started by run_e2e.py). Every step asserts something that could fail.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, step, poll, checkPage, sendMail } from './lib.mjs';

const URL = env('PANEL_URL');
const ARTIFACTS = env('ARTIFACTS');
const SMTP_PORT = Number(env('SMTP_PORT'));
const CLOSED_PORT = Number(env('CLOSED_PORT'));
const DOMAIN = 'shop.example';
const DEFER_DOMAIN = 'deferred.example';

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cartero-e2e-profile-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: env('CHROMIUM'),
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  ignoreHTTPSErrors: true,
  acceptDownloads: true,
  viewport: { width: 1280, height: 800 },
  timeout: 30000,
});
context.setDefaultTimeout(10000);
const page = context.pages()[0] || await context.newPage();

// Console errors (CSP violations are reported there) and uncaught exceptions fail the test.
const problems = [];
page.on('console', m => { if (m.type() === 'error' && !expectedConsoleError(m.text())) problems.push(`console: ${m.text()}`); });
page.on('pageerror', e => problems.push(`page error: ${e.message}`));
// The browser logs every non-2xx fetch; the ones this test provokes on purpose are expected.
function expectedConsoleError(text) {
  return /Failed to load resource: the server responded with a status of (401|403|409|422|429)/.test(text);
}

const S = (...p) => step(page, ARTIFACTS, ...p);
// Whole pages for the artifacts; the dashboard at the 1280×800 viewport (it goes in the README).
const shot = name => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: name !== 'dashboard' });
const main = page.locator('main');
const flash = page.locator('main .flash');

async function go(route, heading) {
  await page.goto(`${URL}/#/${route}`);
  await page.locator('main h1', { hasText: heading }).waitFor();
}

// Fills a form by its labels inside `scope` and submits it with the button named `submit`.
async function fill(scope, values) {
  for (const [label, value] of Object.entries(values)) {
    const control = scope.getByLabel(label, { exact: true });
    if (typeof value === 'boolean') await control.setChecked(value);
    else if (await control.evaluate(el => el.tagName === 'SELECT')) await control.selectOption(value);
    else await control.fill(value);
  }
}
function fieldError(scope, name) {
  return scope.locator(`.field-error[data-field="${name}"]`);
}
function row(text) {
  return main.locator('tbody tr', { hasText: text });
}

let failed = false;
try {
  await S('the login page is served with a strict CSP and asks for a login', async () => {
    const resp = await page.goto(`${URL}/`);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()['content-security-policy'] || '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await page.getByRole('heading', { name: 'Log in to Cartero' }).waitFor();
    assert.equal(await page.locator('#main-nav').isVisible(), false, 'the navigation is hidden before login');
    await checkPage(page, 'login');
    await shot('login');
  });

  await S('keyboard: the username field has the focus; the skip link comes first and moves to the content', async () => {
    assert.equal(await page.evaluate(() => document.activeElement.name), 'username');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    assert.ok(await page.locator('#skip-link').evaluate(el => el.getBoundingClientRect().top >= 0), 'the skip link is visible when focused');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  });

  const login = page.locator('section.login form');
  await S('an empty login form is refused in the browser, next to the field', async () => {
    await fill(login, { Username: '', Password: '' });
    await login.getByRole('button', { name: 'Log in' }).click();
    await assert.doesNotReject(fieldError(login, 'username').filter({ hasText: 'Username is required' }).waitFor());
    assert.equal(await login.getByLabel('Username', { exact: true }).getAttribute('aria-invalid'), 'true');
  });

  await S('a wrong password is refused (401 at the password field)', async () => {
    for (let i = 1; i <= 3; i++) {
      const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST');
      await fill(login, { Username: env('LOCK_USER'), Password: `wrong-password-${i}` });
      await login.getByRole('button', { name: 'Log in' }).click();
      assert.equal((await resp).status(), 401, `attempt ${i}`);
      await fieldError(login, 'password').filter({ hasText: 'wrong username or password' }).waitFor();
    }
  });

  await S('repeated failures lock the account: 429 and a lockout message, even with the right password', async () => {
    const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/session') && r.request().method() === 'POST');
    await fill(login, { Username: env('LOCK_USER'), Password: env('LOCK_PASSWORD') });
    await login.getByRole('button', { name: 'Log in' }).click();
    const r = await resp;
    assert.equal(r.status(), 429);
    assert.ok(Number(r.headers()['retry-after']) > 0, 'Retry-After header');
    await login.locator('.form-error', { hasText: 'Too many failed logins' }).waitFor();
    assert.equal(await page.locator('#main-nav').isVisible(), false, 'still logged out');
    await shot('login-locked');
  });

  await S('the initial admin printed by `carteroctl init` logs in with the keyboard and sees the dashboard', async () => {
    await fill(login, { Username: '', Password: '' });
    await login.getByLabel('Username', { exact: true }).focus();
    await page.keyboard.type(env('ADMIN_USER'));
    await page.keyboard.press('Tab');
    await page.keyboard.type(env('ADMIN_PASSWORD'));
    await page.keyboard.press('Enter');
    await page.locator('main h1', { hasText: 'Dashboard' }).waitFor();
    assert.equal(await page.locator('#session-user').textContent(), env('ADMIN_USER'));
    assert.equal(await page.locator('#main-nav a[aria-current="page"]').textContent(), 'Dashboard');
    await page.locator('#chart-24h').waitFor();
    assert.equal(await page.locator('#chart-24h .bar').count(), 24, 'one bar per hour');
    assert.equal(await page.locator('#chart-7d .bar').count(), 7, 'one bar per day');
  });

  await S('a state change without the CSRF token is refused (403) and changes nothing', async () => {
    const r = await page.evaluate(async () => {
      const post = await fetch('/api/v1/domains', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'csrf.example' }) });
      const list = await (await fetch('/api/v1/domains')).json();
      return { status: post.status, body: await post.json(), names: list.items.map(d => d.name) };
    });
    assert.equal(r.status, 403);
    assert.match(r.body.error, /CSRF/);
    assert.ok(!r.names.includes('csrf.example'));
  });

  await S('domains: a bad name is caught in the browser; a domain is added; a duplicate shows the server\'s 409 at the field', async () => {
    await go('domains', 'Domains');
    const form = main.locator('form[aria-label="Add a domain"]');
    await fill(form, { 'Domain name': 'not a domain' });
    await form.getByRole('button', { name: 'Add domain' }).click();
    await fieldError(form, 'name').filter({ hasText: 'Enter a domain name' }).waitFor();
    await fill(form, { 'Domain name': DOMAIN });
    await form.getByRole('button', { name: 'Add domain' }).click();
    await row(DOMAIN).waitFor();
    await flash.filter({ hasText: `Domain ${DOMAIN} added` }).waitFor();
    await fill(form, { 'Domain name': DOMAIN });
    const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/domains') && r.request().method() === 'POST');
    await form.getByRole('button', { name: 'Add domain' }).click();
    assert.equal((await resp).status(), 409);
    await fieldError(form, 'name').filter({ hasText: /exists/i }).waitFor();
    assert.equal(await row(DOMAIN).count(), 1);
  });

  await S('mailboxes: one created with a quota bar; an unknown domain is refused at the address field', async () => {
    await go(`mailboxes?domain=${DOMAIN}`, 'Mailboxes');
    const form = main.locator('form[aria-label="Create a mailbox"]');
    await fill(form, { Address: 'ann@nowhere.example', Password: 'ann-password-1', Quota: '10M' });
    const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/mailboxes') && r.request().method() === 'POST');
    await form.getByRole('button', { name: 'Create mailbox' }).click();
    assert.equal((await resp).status(), 422);
    await fieldError(form, 'address').filter({ hasText: /nowhere\.example/ }).waitFor();
    await fill(form, { Address: 'short@shop.example', Password: 'short' });
    await form.getByRole('button', { name: 'Create mailbox' }).click();
    await fieldError(form, 'password').filter({ hasText: 'at least 8' }).waitFor();
    for (const a of [`ann@${DOMAIN}`, `bob@${DOMAIN}`]) {
      await fill(form, { Address: a, Password: `${a}-password`, Quota: '10M' });
      await form.getByRole('button', { name: 'Create mailbox' }).click();
      await row(a).waitFor();
    }
    const meter = row(`ann@${DOMAIN}`).locator('meter');
    assert.equal(await meter.getAttribute('max'), String(10 * 1024 * 1024));
    await row(`ann@${DOMAIN}`).getByText('0 B of 10 MiB (0%)').waitFor();
  });

  await S('mailboxes: disabling asks first (cancel keeps it), then disable and enable; password reset in a dialog', async () => {
    const ann = row(`ann@${DOMAIN}`);
    await ann.getByRole('button', { name: `Disable ann@${DOMAIN}` }).click();
    const dlg = page.locator('dialog.confirm[open]');
    await dlg.waitFor();
    assert.match(await dlg.textContent(), /Disable ann@shop\.example\?/);
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'detached' });
    await ann.locator('.badge', { hasText: 'enabled' }).waitFor();
    await ann.getByRole('button', { name: `Disable ann@${DOMAIN}` }).click();
    await page.locator('dialog.confirm[open]').getByRole('button', { name: 'Disable' }).click();
    await ann.locator('.badge', { hasText: 'disabled' }).waitFor();
    await ann.getByRole('button', { name: `Enable ann@${DOMAIN}` }).click();
    await ann.locator('.badge', { hasText: 'enabled' }).waitFor();

    await ann.getByRole('button', { name: `Reset the password of ann@${DOMAIN}` }).click();
    const fd = page.locator('dialog.form-dialog[open]');
    await fd.getByLabel('New password', { exact: true }).fill('x');
    await fd.getByRole('button', { name: 'Set password' }).click();
    await fieldError(fd, 'password').filter({ hasText: 'at least 8' }).waitFor();
    await fd.getByLabel('New password', { exact: true }).fill('a-brand-new-password');
    const resp = page.waitForResponse(r => r.url().includes('/api/v1/mailboxes/') && r.request().method() === 'PATCH');
    await fd.getByRole('button', { name: 'Set password' }).click();
    assert.equal((await resp).status(), 200);
    await fd.waitFor({ state: 'detached' });
    await flash.filter({ hasText: `Password of ann@${DOMAIN} changed` }).waitFor();
  });

  await S('mailboxes: delete after confirming', async () => {
    await row(`bob@${DOMAIN}`).getByRole('button', { name: `Delete mailbox bob@${DOMAIN}` }).click();
    await page.locator('dialog.confirm[open]').getByRole('button', { name: 'Delete' }).click();
    await row(`bob@${DOMAIN}`).waitFor({ state: 'detached' });
    await row(`ann@${DOMAIN}`).waitFor();
  });

  await S('forwarders: one added; a forwarder on a mailbox address shows the server\'s 409 at the field', async () => {
    await go('forwarders', 'Forwarders');
    const form = main.locator('form[aria-label="Add a forwarder"]');
    await fill(form, { Address: `ann@${DOMAIN}`, 'Forward to': 'x@elsewhere.example' });
    const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/forwarders') && r.request().method() === 'POST');
    await form.getByRole('button', { name: 'Add forwarder' }).click();
    assert.equal((await resp).status(), 409);
    await fieldError(form, 'source').filter({ hasText: /mailbox/i }).waitFor();
    await fill(form, { Address: `sales@${DOMAIN}`, 'Forward to': 'not-an-address' });
    await form.getByRole('button', { name: 'Add forwarder' }).click();
    await fieldError(form, 'destinations').filter({ hasText: 'not an address' }).waitFor();
    await fill(form, { Address: `sales@${DOMAIN}`, 'Forward to': `ann@${DOMAIN}\nboss@elsewhere.example` });
    await form.getByRole('button', { name: 'Add forwarder' }).click();
    const r = row(`sales@${DOMAIN}`);
    await r.waitFor();
    assert.match(await r.textContent(), /boss@elsewhere\.example/);
  });

  await S('autoresponders: dates are checked, the preview follows the form, one is saved', async () => {
    await go('autoresponders', 'Autoresponders');
    const form = main.locator('form[aria-label="Set an autoresponder"]');
    await fill(form, { Mailbox: `ann@${DOMAIN}`, Subject: 'Away until January', Message: 'I am away.\nBack on 4 January.',
      'First day (UTC)': '2026-12-24', 'Last day (UTC)': '2026-12-20' });
    const preview = main.locator('.preview');
    assert.match(await preview.textContent(), /Subject: Away until January/);
    assert.match(await preview.textContent(), /Back on 4 January/);
    await form.getByRole('button', { name: 'Save autoresponder' }).click();
    await fieldError(form, 'end_at').filter({ hasText: 'before the first day' }).waitFor();
    await fill(form, { 'Last day (UTC)': '2027-01-03', 'Reply to the same sender at most every … days': '400' });
    await form.getByRole('button', { name: 'Save autoresponder' }).click();
    await fieldError(form, 'interval_days').filter({ hasText: '1 to 365' }).waitFor();
    await fill(form, { 'Reply to the same sender at most every … days': '3' });
    const resp = page.waitForResponse(r => r.url().includes('/api/v1/autoresponders/') && r.request().method() === 'PUT');
    await form.getByRole('button', { name: 'Save autoresponder' }).click();
    assert.equal((await resp).status(), 200);
    const r = row(`ann@${DOMAIN}`);
    await r.filter({ hasText: '2026-12-24 00:00 UTC' }).filter({ hasText: '2027-01-03 23:59 UTC' }).waitFor();
    assert.match(await r.textContent(), /3 day\(s\)/);
    await checkPage(page, 'autoresponders');
    await shot('autoresponders');
  });

  await S('spam filters: thresholds must grow; a bad RE2 pattern shows the server\'s 422 at the field; a rule is added', async () => {
    await go('spam', 'Spam filters');
    const sf = main.locator('form[aria-label="Spam thresholds"]');
    await fill(sf, { 'Tag the subject from score': '10', 'Deliver to Junk from score': '5', 'Refuse from score': '20' });
    await sf.getByRole('button', { name: 'Save settings' }).click();
    await fieldError(sf, 'reject_threshold').filter({ hasText: 'must grow' }).waitFor();
    await fill(sf, { 'Tag the subject from score': '4', 'Deliver to Junk from score': '7', 'Refuse from score': '20' });
    await sf.getByRole('button', { name: 'Save settings' }).click();
    await main.locator('#spam-settings + div').getByText('tag from 4, Junk from 7, refuse from 20').waitFor();

    const form = main.locator('form[aria-label="Add a spam rule"]');
    await fill(form, { Name: 'cheap-pills', 'Looks at': 'header', 'Header name': 'Subject', Pattern: '(?i)cheap (pills', Score: '4.5' });
    const resp = page.waitForResponse(r => r.url().endsWith('/api/v1/spam/rules') && r.request().method() === 'POST');
    await form.getByRole('button', { name: 'Add rule' }).click();
    assert.equal((await resp).status(), 422);
    await fieldError(form, 'pattern').filter({ hasText: /./ }).waitFor();
    await fill(form, { Pattern: '(?i)cheap pills' });
    await form.getByRole('button', { name: 'Add rule' }).click();
    const r = row('cheap-pills');
    await r.waitFor();
    assert.match(await r.textContent(), /header subject/i);
    assert.match(await r.textContent(), /4\.5/);

    const lf = main.locator('form[aria-label="Add an allow or block list entry"]');
    await fill(lf, { List: 'block', Entry: '@spammer.example' });
    await lf.getByRole('button', { name: 'Add entry' }).click();
    await row('@spammer.example').waitFor();
    await checkPage(page, 'spam');
    await shot('spam');
  });

  await S('routes: mail for a domain goes to a closed loopback port', async () => {
    await go('routes', 'Routes');
    const form = main.locator('form[aria-label="Add a transport route"]');
    await fill(form, { 'Recipient domain': DEFER_DOMAIN, 'Next hop': '127.0.0.1', Port: '99999' });
    await form.getByRole('button', { name: 'Add transport route' }).click();
    await fieldError(form, 'port').filter({ hasText: '1 to 65535' }).waitFor();
    await fill(form, { Port: String(CLOSED_PORT) });
    await form.getByRole('button', { name: 'Add transport route' }).click();
    await row(DEFER_DOMAIN).filter({ hasText: `127.0.0.1:${CLOSED_PORT}` }).waitFor();
  });

  const msgid = `<e2e-${Date.now()}@e2e.example>`;
  const deferId = `<e2e-defer-${Date.now()}@e2e.example>`;
  await S('carterod accepts a message for the new mailbox and one for the routed domain', async () => {
    // carterod notices config.db changes within a second (it polls): wait two of its ticks so
    // the new transport route is in force, else the message would go to MX lookup and bounce.
    await new Promise(r => setTimeout(r, 2500));
    const send = (to, id) => poll(`carterod accepting mail for ${to}`, () => sendMail(SMTP_PORT, 'sender@e2e.example', to,
      `From: <sender@e2e.example>\nTo: <${to}>\nSubject: panel e2e\nMessage-ID: ${id}\n\nhello from the browser test\n`)
      .catch(e => (/RCPT/.test(e.message) ? false : Promise.reject(e))), 10000, 500);
    await send(`ann@${DOMAIN}`, msgid);
    await send(`someone@${DEFER_DOMAIN}`, deferId);
  });

  await S('the delivery log finds the delivered message by address and by Message-ID', async () => {
    await go('log', 'Delivery log');
    const form = main.locator('form.filter-form');
    await poll('a delivered row in the delivery log', async () => {
      await fill(form, { 'Address, queue id or Message-ID': `ann@${DOMAIN}` });
      await form.getByRole('button', { name: 'Search' }).click();
      await main.locator('#log-results + div table, #log-results + div .empty, #log-results + div .notice').first().waitFor();
      return (await row('delivered').count()) > 0;
    }, 20000, 1000);
    await fill(form, { 'Address, queue id or Message-ID': msgid });
    await form.getByRole('button', { name: 'Search' }).click();
    await row(`ann@${DOMAIN}`).filter({ hasText: msgid }).waitFor();
    await shot('log');
  });

  await S('the live queue shows the deferred message by itself, with the remote reply, and retries it', async () => {
    await go('queue', 'Queue');
    // No reload: the page refreshes every 5 seconds on its own.
    const r = row(`someone@${DEFER_DOMAIN}`);
    await r.locator('.badge', { hasText: 'deferred' }).waitFor({ timeout: 30000 });
    assert.match(await r.textContent(), /1 attempt\(s\)/);
    assert.match(await r.locator('.reply').textContent(), new RegExp(`${CLOSED_PORT}.*refused`, 'i'));
    const resp = page.waitForResponse(x => /\/api\/v1\/queue\/[^/]+\/retry$/.test(x.url()));
    await r.getByRole('button', { name: /^Retry message/ }).click();
    const answer = await resp;
    assert.equal(answer.status(), 200);
    assert.equal((await answer.json()).recipients, 1, 'one recipient scheduled again');
    await flash.filter({ hasText: 'will be retried now (1 recipient(s))' }).waitFor();
  });

  await S('queue: the details dialog lists the delivery attempt with the remote reply', async () => {
    const r = row(`someone@${DEFER_DOMAIN}`);
    await r.getByRole('button', { name: /^Details of message/ }).click();
    const dlg = page.locator('dialog.info-dialog[open]');
    await dlg.locator('table', { hasText: 'Connection refused' }).waitFor();
    assert.match(await dlg.textContent(), new RegExp(deferId.replace(/[<>.]/g, '.')));
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
  });

  await S('queue: hold and release', async () => {
    const r = row(`someone@${DEFER_DOMAIN}`);
    await r.getByRole('button', { name: /^Hold message/ }).click();
    await r.getByRole('button', { name: /^Release message/ }).waitFor();
    await r.getByRole('button', { name: /^Release message/ }).click();
    await r.getByRole('button', { name: /^Hold message/ }).waitFor();
    await checkPage(page, 'queue');
    await shot('queue');
  });

  await S('the dashboard counts the deliveries and the deferred message', async () => {
    await go('dashboard', 'Dashboard');
    const card = label => main.locator('.card', { hasText: label }).locator('.card-value');
    assert.equal(await card('Messages in the queue').textContent(), '1');
    assert.ok(Number(await card('Delivered, last 24 h').textContent()) >= 1);
    assert.ok(Number(await card('Deferred, last 24 h').textContent()) >= 1);
    assert.ok(await page.locator('#chart-24h rect.bar-delivered').count() >= 1, 'a delivered bar segment');
    await main.locator('ul.warnings li', { hasText: 'has no active DKIM key' }).first().waitFor();
    // The closed port paused deliveries to the routed domain for a while.
    assert.equal(await card('Destinations paused').textContent(), '1');
    await row(DEFER_DOMAIN).filter({ hasText: 'connection failed' }).waitFor();
    await checkPage(page, 'dashboard');
    await shot('dashboard');
  });

  await S('DNS: expected records, and the zone file downloads', async () => {
    await go(`dns?domain=${DOMAIN}`, 'DNS and DKIM');
    await main.locator('table', { hasText: 'MX' }).first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      main.getByRole('link', { name: `Download the zone file of ${DOMAIN}` }).click(),
    ]);
    assert.equal(download.suggestedFilename(), `${DOMAIN}.zone`);
    const file = path.join(ARTIFACTS, `${DOMAIN}.zone`);
    await download.saveAs(file);
    const zone = fs.readFileSync(file, 'utf8');
    assert.match(zone, /\bMX\b/);
    assert.match(zone, /shop\.example/);
    assert.match(zone, /v=spf1/);
  });

  await S('DKIM: a key is generated and the dashboard warning for it goes away', async () => {
    const form = main.locator('form[aria-label="Generate a DKIM key"]');
    await fill(form, { Selector: 'bad selector!' });
    await form.getByRole('button', { name: 'Generate key' }).click();
    await fieldError(form, 'selector').filter({ hasText: 'Letters, digits and dashes' }).waitFor();
    await fill(form, { Selector: 's2026', Algorithm: 'ed25519' });
    await form.getByRole('button', { name: 'Generate key' }).click();
    await row('s2026').locator('.badge', { hasText: 'active' }).waitFor({ timeout: 20000 });
    await checkPage(page, 'dns');
    await shot('dns');
    await go('dashboard', 'Dashboard');
    await main.locator('ul.warnings').waitFor();
    assert.equal(await main.locator('ul.warnings li', { hasText: 'has no active DKIM key' }).count(), 0);
  });

  await S('every page renders without errors, fits 1280 px and is screenshotted', async () => {
    const pages = [['domains', 'Domains'], ['mailboxes', 'Mailboxes'], ['forwarders', 'Forwarders'], ['log', 'Delivery log'],
      ['bounces', 'Bounces'], ['suppressions', 'Suppression list'], ['reputation', 'Reputation'],
      ['ips', 'IPs and pools'], ['routes', 'Routes'], ['pacing', 'Destination pacing'], ['account', 'Account']];
    for (const [route, heading] of pages) {
      await go(route, heading);
      await page.waitForLoadState('networkidle');
      assert.equal(await main.locator('.notice-error').count(), 0, `${route}: an error notice`);
      await checkPage(page, route);
      await shot(route);
    }
  });

  await S('pacing: at least one limit is required; a rule is added', async () => {
    await go('pacing', 'Destination pacing');
    const form = main.locator('form[aria-label="Add a pacing rule"]');
    await fill(form, { Destination: '*.bigmail.example' });
    await form.getByRole('button', { name: 'Add pacing rule' }).click();
    await fieldError(form, 'max_connections').filter({ hasText: 'at least one limit' }).waitFor();
    await fill(form, { 'Connections at once': '3' });
    await form.getByRole('button', { name: 'Add pacing rule' }).click();
    await row('*.bigmail.example').waitFor();
  });

  await S('queue: delete asks first, then the message is gone', async () => {
    await go('queue', 'Queue');
    const r = row(`someone@${DEFER_DOMAIN}`);
    await r.getByRole('button', { name: /^Delete message/ }).click();
    const dlg = page.locator('dialog.confirm[open]');
    await dlg.getByRole('button', { name: 'Delete' }).click();
    await r.waitFor({ state: 'detached' });
    await main.getByText('The queue is empty for this filter.').waitFor();
  });

  await S('logout ends the session on the server', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Cartero' }).waitFor();
    await main.getByText('You have logged out.').waitFor();
    assert.equal(await page.locator('#main-nav').isVisible(), false);
    const status = await page.evaluate(async () => (await fetch('/api/v1/session')).status);
    assert.equal(status, 401);
  });

  await S('no console errors, CSP violations or uncaught exceptions', async () => {
    assert.deepEqual(problems, []);
  });
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
