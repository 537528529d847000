// app.js — start-up, hash routing ('#/page?param=value'), session box and logout.
import { api, setCsrf, setUnauthorizedHandler, ApiError } from './api.js';
import { h, clear } from './dom.js';
import { session } from './session.js';
import * as login from './pages/login.js';
import * as dashboard from './pages/dashboard.js';
import * as domains from './pages/domains.js';
import * as mailboxes from './pages/mailboxes.js';
import * as forwarders from './pages/forwarders.js';
import * as autoresponders from './pages/autoresponders.js';
import * as spam from './pages/spam.js';
import * as queue from './pages/queue.js';
import * as log from './pages/log.js';
import * as bounces from './pages/bounces.js';
import * as suppressions from './pages/suppressions.js';
import * as dns from './pages/dns.js';
import * as reputation from './pages/reputation.js';
import * as ips from './pages/ips.js';
import * as routes from './pages/routes.js';
import * as pacing from './pages/pacing.js';
import * as account from './pages/account.js';

const PAGES = { dashboard, domains, mailboxes, forwarders, autoresponders, spam, queue, log, bounces, suppressions, dns,
  reputation, ips, routes, pacing, account };

const main = document.getElementById('main');
const nav = document.getElementById('main-nav');
const sessionBox = document.getElementById('session-box');
let cleanup = null;
let renderSeq = 0;

function parseHash() {
  const m = location.hash.match(/^#\/([\w-]*)(?:\?(.*))?$/);
  if (!m) return null;
  return { name: m[1] || 'dashboard', params: new URLSearchParams(m[2] || '') };
}

function showSignedIn(user) {
  session.user = user;
  document.getElementById('session-user').textContent = user ? user.username : '';
  sessionBox.hidden = !user;
  nav.hidden = !user;
}

async function render() {
  const route = parseHash();
  if (!route) return; // '#main' (the skip link) and other in-page anchors are not routes
  const seq = ++renderSeq;
  if (cleanup) { cleanup(); cleanup = null; }
  clear(main);
  if (!session.user) {
    document.title = 'Log in — Cartero';
    login.render(main, { onLogin: signedIn });
    return;
  }
  const page = PAGES[route.name];
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${route.name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!page) {
    document.title = 'Not found — Cartero';
    main.append(h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, h('a', { href: '#/dashboard' }, 'Go to the dashboard')));
    focusHeading();
    return;
  }
  document.title = `${page.title} — Cartero`;
  try {
    cleanup = (await page.render(main, route.params)) || null;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 401) return;
    if (seq === renderSeq) main.append(h('p.notice.notice-error', { role: 'alert' }, e.message));
  }
  if (seq === renderSeq) focusHeading();
}

function focusHeading() {
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({ preventScroll: true });
  }
}

function signedIn(who) {
  setCsrf(who.csrf_token);
  showSignedIn(who);
  if (!parseHash() || parseHash().name === 'login') location.hash = '#/dashboard';
  else render();
}

setUnauthorizedHandler(() => {
  if (!session.user) return;
  setCsrf('');
  showSignedIn(null);
  session.notice = 'Your session has ended. Please log in again.';
  render();
});

document.getElementById('logout-button').addEventListener('click', async () => {
  try {
    await api('DELETE', '/session');
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
  }
  setCsrf('');
  showSignedIn(null);
  session.notice = 'You have logged out.';
  // replaceState fires no hashchange: one render, which shows (and consumes) the notice.
  history.replaceState(null, '', '#/dashboard');
  render();
});

document.getElementById('skip-link').addEventListener('click', ev => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', render);
for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, () => { session.lastActivity = Date.now(); }, true);

async function start() {
  try {
    const who = await api('GET', '/session', undefined, { quiet401: true });
    setCsrf(who.csrf_token);
    showSignedIn(who);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    showSignedIn(null);
  }
  if (!parseHash()) history.replaceState(null, '', '#/dashboard');
  render();
}

start();
