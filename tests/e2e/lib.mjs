// lib.mjs — helpers for panel.test.mjs: steps with failure screenshots, a tiny SMTP client
// (Node's net module), polling, and the page checks every screen gets.
import net from 'node:net';
import path from 'node:path';
import assert from 'node:assert/strict';

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`environment variable ${name} is not set (run through run_e2e.py)`);
  return v;
}

let stepNo = 0;
export async function step(page, artifacts, name, fn) {
  const n = String(++stepNo).padStart(2, '0');
  const t0 = Date.now();
  process.stdout.write(`e2e: ${n} ${name} ... `);
  try {
    await fn();
    process.stdout.write(`ok (${Date.now() - t0} ms)\n`);
  } catch (e) {
    process.stdout.write('FAILED\n');
    await page.screenshot({ path: path.join(artifacts, `FAILED-${n}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

// Polls fn until it returns a truthy value; bounded by timeout ms.
export async function poll(what, fn, timeout = 15000, interval = 250) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise(r => setTimeout(r, interval));
  }
}

// The checks every page gets: one h1, no horizontal scrolling at the test's 1280×800, every
// form control labelled, landmarks present.
export async function checkPage(page, label) {
  const r = await page.evaluate(() => {
    const unlabelled = [...document.querySelectorAll('input, select, textarea')]
      .filter(c => c.type !== 'hidden' && !c.closest('[hidden]'))
      .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label'))
      .map(c => c.name || c.id || c.outerHTML.slice(0, 60));
    const buttonsWithoutName = [...document.querySelectorAll('button')]
      .filter(b => !(b.textContent.trim() || b.getAttribute('aria-label'))).length;
    return {
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      h1: document.querySelectorAll('main h1').length,
      main: document.querySelectorAll('main').length,
      unlabelled, buttonsWithoutName,
      styleAttrs: document.querySelectorAll('[style]').length,
    };
  });
  assert.ok(r.scrollWidth <= r.innerWidth, `${label}: horizontal scrolling (scrollWidth ${r.scrollWidth} > innerWidth ${r.innerWidth})`);
  assert.equal(r.h1, 1, `${label}: expected exactly one h1 in main`);
  assert.equal(r.main, 1, `${label}: expected one main landmark`);
  assert.deepEqual(r.unlabelled, [], `${label}: form controls without a label`);
  assert.equal(r.buttonsWithoutName, 0, `${label}: buttons without an accessible name`);
  assert.equal(r.styleAttrs, 0, `${label}: elements with a style attribute (the CSP forbids them)`);
}

// A minimal SMTP client: one message, every reply code checked.
export function sendMail(port, from, to, data) {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    sock.setTimeout(15000, () => { sock.destroy(); reject(new Error('SMTP timeout')); });
    let buf = '';
    const script = [
      [null, 220], [`EHLO e2e.example`, 250], [`MAIL FROM:<${from}>`, 250], [`RCPT TO:<${to}>`, 250],
      ['DATA', 354], [data.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.', 250], ['QUIT', 221],
    ];
    let i = 0;
    let lastReply = '';
    const next = () => {
      if (i >= script.length) { sock.end(); resolve(lastReply); return; }
      const [line] = script[i];
      if (line !== null) sock.write(`${line}\r\n`);
    };
    sock.on('data', chunk => {
      buf += chunk.toString('utf8');
      for (;;) {
        const m = buf.match(/^((?:\d{3}-[^\r\n]*\r\n)*)(\d{3})( [^\r\n]*)?\r\n/);
        if (!m) break;
        buf = buf.slice(m[0].length);
        const code = Number(m[2]);
        const want = script[i][1];
        if (code !== want) {
          sock.destroy();
          reject(new Error(`SMTP: after ${JSON.stringify(script[i][0])} expected ${want}, got ${m[0].trim()}`));
          return;
        }
        if (i === 5) lastReply = m[0].trim();
        i++;
        next();
      }
    });
    sock.on('error', reject);
  });
}
