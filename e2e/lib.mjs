// Shared helpers for zhucan's browser tests (node:test + playwright-core + axe-core).
//
// - startServer(): runs `zhucan demo` on a free port with a fresh data dir, waits for /readyz,
//   keeps its stderr (one-time codes are logged there) and stops it at the end.
//   Seeding the demo district takes ~10 s in a debug build, so the first server seeds a
//   template data dir (keyed by the binary's size and mtime) and later servers start from a
//   fresh copy of it. ZHUCAN_E2E_SEED_CACHE=0 seeds every time.
// - launchBrowser(): Debian's /usr/bin/chromium, headless (never `npx playwright install`).
// - axe(page): fails on any serious or critical violation.
// - keyboard helpers: tabTo(), focused(), signIn() (keyboard only).
// - useApp(): one server + one browser per test file, via before()/after().
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, mkdirSync, mkdtempSync, rmSync, statSync, existsSync, cpSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const PASSWORD = 'Demo@2026';
export const RESIDENT_PHONE = '13800138000';
export const RESIDENT_NAME = '张明';
export const ARTIFACTS = path.join(HERE, 'artifacts');

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
const FAIL_IMPACTS = new Set(['serious', 'critical']);

// Same flags as shared/tools/a11y/axe-check.mjs: the machine's network is closed, so
// Chromium's background connections must be off; small /dev/shm in containers.
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export const VIEWPORT = { width: 1280, height: 900 };

// ---------------------------------------------------------------- server

function binaryPath() {
  const bin = process.env.ZHUCAN_BIN || path.join(HERE, '..', 'target', 'debug', 'zhucan');
  return path.resolve(HERE, bin);
}

async function freePort() {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stripAnsi = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

async function runDemo(bin, dataDir, timeoutMs) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['demo', '--listen', `127.0.0.1:${port}`, '--data', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  let exited = null;
  // never leave a server behind, even if this test process dies
  const reap = () => { if (!exited) { try { child.kill('SIGKILL'); } catch { /* gone */ } } };
  process.once('exit', reap);
  const exitPromise = new Promise((resolve) => child.on('exit', (code, sig) => { exited = { code, sig }; resolve(exited); }));

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      throw new Error(`zhucan demo exited early (${JSON.stringify(exited)}):\n${stdout}\n${stripAnsi(stderr).slice(-4000)}`);
    }
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`zhucan demo not ready after ${timeoutMs} ms:\n${stdout}\n${stripAnsi(stderr).slice(-4000)}`);
    }
    await sleep(200);
  }

  async function stop() {
    if (exited) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exitPromise;
    clearTimeout(t);
  }
  return {
    url,
    port,
    dataDir,
    pid: child.pid,
    stdout: () => stdout,
    log: () => stripAnsi(stderr),
    stop,
  };
}

/** A seeded data dir to copy from, made once per binary build. */
async function seededTemplate(bin) {
  const st = statSync(bin);
  const key = `${st.size}-${Math.floor(st.mtimeMs)}`;
  const root = path.join(tmpdir(), 'zhucan-e2e-seed');
  const dir = path.join(root, key);
  if (existsSync(path.join(dir, 'READY'))) return dir;
  mkdirSync(root, { recursive: true });
  const work = mkdtempSync(path.join(root, `tmp-${key}-`));
  const s = await runDemo(bin, work, 120000);
  await s.stop(); // graceful: the pool closes and SQLite checkpoints its WAL
  writeFileSync(path.join(work, 'READY'), key);
  try {
    renameSync(work, dir);
  } catch {
    // another test process won the race; use theirs
    rmSync(work, { recursive: true, force: true });
  }
  // templates of older builds are of no further use
  for (const old of readdirSync(root)) {
    if (old !== key && !old.startsWith('tmp-')) rmSync(path.join(root, old), { recursive: true, force: true });
  }
  return dir;
}

/**
 * Starts `zhucan demo` on a free port with a fresh temporary data dir.
 * Returns { url, log(), waitForLog(re, from), logOffset(), stop() }.
 */
export async function startServer() {
  const bin = binaryPath();
  if (!existsSync(bin)) {
    throw new Error(`server binary ${bin} not found: run \`cargo build --bin zhucan\` or set ZHUCAN_BIN`);
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'zhucan-e2e-'));
  if (process.env.ZHUCAN_E2E_SEED_CACHE !== '0') {
    const template = await seededTemplate(bin);
    cpSync(template, dataDir, { recursive: true, filter: (src) => path.basename(src) !== 'READY' });
  }
  const s = await runDemo(bin, dataDir, 120000);
  return {
    ...s,
    logOffset: () => s.log().length,
    /** Waits until the log after `from` matches `re`; returns the match. */
    async waitForLog(re, from = 0, timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = s.log().slice(from).match(re);
        if (m) return m;
        if (Date.now() > deadline) {
          throw new Error(`server log did not match ${re} within ${timeoutMs} ms; tail:\n${s.log().slice(-2000)}`);
        }
        await sleep(100);
      }
    },
    async stop() {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- browser

export async function launchBrowser() {
  return await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 60000,
  });
}

/**
 * A new browser context (own cookies) and page. `lang: 'en'` and `elder: true` set the
 * same persisting cookies as /prefs does.
 */
export async function newPage(app, { lang, elder, viewport = VIEWPORT } = {}) {
  await app.ready();
  const context = await app.browser.newContext({ viewport, locale: 'zh-CN' });
  context.setDefaultTimeout(15000);
  const cookies = [];
  if (lang) cookies.push({ name: 'zhucan_lang', value: lang, url: app.url });
  if (elder) cookies.push({ name: 'zhucan_elder', value: '1', url: app.url });
  if (cookies.length) await context.addCookies(cookies);
  const page = await context.newPage();
  return page;
}

/**
 * One server and one browser for the whole test file. Returns an object whose fields are
 * filled in before the first test: { server, browser, url }.
 */
export function useApp() {
  const app = {};
  let starting = null;
  // Idempotent: every hook or helper may await it (Node 20 does not order root-level hooks
  // of one file reliably against each other).
  app.ready = () => {
    starting ??= (async () => {
      const [server, browser] = await Promise.all([startServer(), launchBrowser()]);
      Object.assign(app, { server, browser, url: server.url });
      return app;
    })();
    return starting;
  };
  before(() => app.ready(), { timeout: 180000 });
  after(async () => {
    if (!starting) return;
    await starting.catch(() => {});
    await app.browser?.close().catch(() => {});
    await app.server?.stop();
  });
  return app;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---------------------------------------------------------------- axe

/**
 * Runs axe-core on the current page; fails on any serious or critical violation, listing
 * rule id, impact, help, and the targets. Returns the full result for further checks.
 */
export async function axe(page, label = '') {
  await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    return await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
  }, AXE_TAGS);
  const bad = results.violations.filter((v) => FAIL_IMPACTS.has(v.impact));
  if (process.env.ZHUCAN_E2E_AXE_VERBOSE) {
    for (const v of results.violations) {
      console.log(`axe ${label || page.url()}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
    }
    for (const v of results.incomplete) {
      console.log(`axe needs review ${label || page.url()}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ') + ' ' + (n.any[0]?.message || '')).slice(0, 3).join(', ')}`);
    }
  }
  if (bad.length) {
    const lines = bad.map((v) => {
      const targets = v.nodes.slice(0, 5).map((n) => `      ${n.target.join(' >>> ')}${n.failureSummary ? ' — ' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 200) : ''}`);
      const more = v.nodes.length > 5 ? `\n      … and ${v.nodes.length - 5} more` : '';
      return `  ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})\n${targets.join('\n')}${more}`;
    });
    assert.fail(`axe: ${bad.length} serious/critical violation(s) on ${label || page.url()}:\n${lines.join('\n')}`);
  }
  return results;
}

/**
 * What axe reports only as "moderate" (or not at all), checked strictly here: one <main>,
 * exactly one <h1>, no skipped heading levels, unique ids, a non-empty <title>, every form
 * control labelled by a visible <label>, and every in-page link pointing at an element.
 */
export async function checkStructure(page, label = '') {
  const problems = await page.evaluate(() => {
    const out = [];
    const mains = document.querySelectorAll('main');
    if (mains.length !== 1) out.push(`${mains.length} <main> elements`);
    const h1 = document.querySelectorAll('h1');
    if (h1.length !== 1) out.push(`${h1.length} <h1> elements`);
    let prev = 0;
    for (const h of document.querySelectorAll('h1, h2, h3, h4, h5, h6')) {
      const level = Number(h.tagName[1]);
      if (prev && level > prev + 1) out.push(`heading level skips from h${prev} to h${level} ("${h.textContent.trim().slice(0, 30)}")`);
      prev = level;
    }
    const seen = new Map();
    for (const e of document.querySelectorAll('[id]')) seen.set(e.id, (seen.get(e.id) || 0) + 1);
    for (const [id, n] of seen) if (n > 1) out.push(`id "${id}" used ${n} times`);
    if (!document.title.trim()) out.push('empty <title>');
    for (const c of document.querySelectorAll('input:not([type=hidden]):not([type=submit]), select, textarea')) {
      if (!c.labels || c.labels.length === 0) out.push(`${c.tagName.toLowerCase()}#${c.id || c.name} has no <label>`);
    }
    for (const a of document.querySelectorAll('a[href^="#"]')) {
      const id = decodeURIComponent(a.getAttribute('href').slice(1));
      if (id && !document.getElementById(id)) out.push(`link to #${id} has no target`);
    }
    return out;
  });
  assert.deepEqual(problems, [], `page structure of ${label || page.url()}`);
}

// ---------------------------------------------------------------- keyboard

/** Describes document.activeElement. */
export async function focused(page) {
  return await page.evaluate(() => {
    const e = document.activeElement;
    if (!e) return null;
    return {
      tag: e.tagName.toLowerCase(),
      id: e.id || '',
      name: e.getAttribute('name') || '',
      type: e.getAttribute('type') || '',
      href: e.getAttribute('href') || '',
      text: (e.innerText || e.value || '').trim().replace(/\s+/g, ' ').slice(0, 80),
      cls: e.className || '',
    };
  });
}

/**
 * Presses Tab (or Shift+Tab) until the focused element matches `selector` (and, if given,
 * its text includes `text`). Fails after `max` presses. Returns the number of presses.
 */
export async function tabTo(page, selector, { text, max = 80, reverse = false } = {}) {
  const seen = [];
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press(reverse ? 'Shift+Tab' : 'Tab');
    const hit = await page.evaluate(({ selector, text }) => {
      const e = document.activeElement;
      if (!e || e === document.body) return false;
      if (!e.matches(selector)) return false;
      if (text && !(e.innerText || e.value || '').includes(text)) return false;
      return true;
    }, { selector, text });
    if (hit) return i;
    const f = await focused(page);
    seen.push(f ? `${f.tag}${f.id ? '#' + f.id : ''}${f.text ? ' "' + f.text.slice(0, 20) + '"' : ''}` : '-');
  }
  assert.fail(`keyboard: ${selector}${text ? ` with text "${text}"` : ''} not reached in ${max} ${reverse ? 'Shift+Tab' : 'Tab'} presses on ${page.url()}; focus went: ${seen.join(' → ')}`);
}

/** Presses Enter and waits for the navigation it starts to finish. */
export async function enterAndWait(page, key = 'Enter') {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press(key)]);
}

/** Moves focus to the very top of the document, as after a fresh page load. */
export async function focusTop(page) {
  await page.evaluate(() => {
    if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
    window.getSelection()?.removeAllRanges();
  });
}

/**
 * Staff sign-in with the keyboard only: from the top of /staff/login, Tab to the skip link,
 * Enter, Tab to the user name, type, Tab to the password, type, Enter. Ends on the dashboard
 * (or on `next` if the login page was reached from a protected page).
 */
export async function signIn(page, app, user, { password = PASSWORD, goto = true } = {}) {
  if (goto) await page.goto(`${app.url}/staff/login`);
  await focusTop(page);
  await tabTo(page, 'a.skip-link', { max: 1 });
  await page.keyboard.press('Enter');
  await tabTo(page, '#username', { max: 10 });
  await page.keyboard.type(user);
  await tabTo(page, '#password', { max: 1 });
  await page.keyboard.type(password);
  await enterAndWait(page);
  assert.match(new URL(page.url()).pathname, /^\/staff/, `after signing in as ${user}`);
  assert.ok(!new URL(page.url()).pathname.startsWith('/staff/login'), `still on the login page after signing in as ${user}: ${await page.locator('main').innerText()}`);
}

/** Finds the first one-time code sent after log offset `from`. */
export async function readCode(app, from = 0) {
  const m = await app.server.waitForLog(/notification sent[^\n]*?(?:验证码是|code is)\D{0,3}(\d{6})/, from);
  return m[1];
}
