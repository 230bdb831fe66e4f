// Keyboard-only journeys on the resident portal, and the language / elder-mode switches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useApp, newPage, tabTo, focused, enterAndWait, focusTop, readCode, axe, signIn,
  RESIDENT_PHONE, RESIDENT_NAME,
} from '../lib.mjs';

const app = useApp();
const path = (page) => new URL(page.url()).pathname;
const htmlState = (page) => page.evaluate(() => ({
  lang: document.documentElement.getAttribute('lang'),
  elder: document.documentElement.classList.contains('elder'),
}));

test('(d) resident sign-in: phone, Enter, code from the server log, Enter → /me', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/`);

  // From the home page to the sign-in page by keyboard.
  await tabTo(page, 'main a', { text: '居民登录' });
  await enterAndWait(page);
  assert.equal(path(page), '/login');

  await tabTo(page, '#phone');
  await page.keyboard.type(RESIDENT_PHONE);
  const from = app.server.logOffset();
  await enterAndWait(page);
  assert.equal(path(page), '/login/code');
  assert.match(await page.locator('main [role=status]').innerText(), /验证码已通过短信发送/);
  assert.equal(await page.locator('#phone').inputValue(), RESIDENT_PHONE, 'the number is kept');

  const code = await readCode(app, from);
  assert.match(code, /^\d{6}$/);

  await tabTo(page, '#code');
  assert.equal(await page.locator('#code').getAttribute('autocomplete'), 'one-time-code');
  await page.keyboard.type(code);
  await enterAndWait(page);

  assert.equal(path(page), '/me');
  assert.match(await page.locator('main h2').first().innerText(), new RegExp(RESIDENT_NAME));
  assert.match(await page.locator('main').innerText(), /肢体/);
  await axe(page, '/me after keyboard sign-in');

  // The same code is in the administrator's outbox (masked number, full message).
  const admin = await newPage(app);
  await signIn(admin, app, 'admin');
  await admin.goto(`${app.url}/staff/outbox`);
  const outbox = await admin.locator('main table').innerText();
  assert.ok(outbox.includes(code), `outbox lists the code ${code}`);
  assert.ok(!outbox.includes(RESIDENT_PHONE), 'the outbox masks the phone number');
  await admin.context().close();

  // Sign out by keyboard, too.
  await tabTo(page, 'header button[type=submit]', { text: '退出登录', max: 10 });
  await enterAndWait(page);
  await page.goto(`${app.url}/me`);
  assert.notEqual(path(page), '/me', 'signed out: /me no longer shows the record');
});

test('(d) resident sign-in with a wrong code shows an error, focused', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/login`);
  await tabTo(page, '#phone');
  await page.keyboard.type(RESIDENT_PHONE);
  const from = app.server.logOffset();
  await enterAndWait(page);
  const code = await readCode(app, from);
  const wrong = String((Number(code) + 1) % 1000000).padStart(6, '0');
  await tabTo(page, '#code');
  await page.keyboard.type(wrong);
  await enterAndWait(page);
  assert.notEqual(path(page), '/me');
  await page.waitForFunction(() => document.activeElement?.matches('.error-summary'));
  await tabTo(page, '.error-summary a', { max: 1 });
  const href = (await focused(page)).href;
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.activeElement?.id === id, href.slice(1));
  assert.equal(await page.locator(href).getAttribute('aria-invalid'), 'true');
  await axe(page, 'resident sign-in, wrong code');
});

test('(e) English and elder mode, switched by keyboard, persist across navigation', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/login`);
  assert.deepEqual(await htmlState(page), { lang: 'zh-CN', elder: false });

  // "English" in the header: the link text is marked lang="en" on the Chinese page.
  await tabTo(page, 'header a', { text: 'English' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('lang')), 'en');
  await enterAndWait(page);
  assert.equal(path(page), '/login', 'back where we were');
  assert.deepEqual(await htmlState(page), { lang: 'en', elder: false });
  assert.match(await page.locator('h1').innerText(), /sign-in/i);

  // "Elder mode (large text)".
  await tabTo(page, 'header a', { text: 'Elder mode' });
  await enterAndWait(page);
  assert.equal(path(page), '/login');
  assert.deepEqual(await htmlState(page), { lang: 'en', elder: true });
  const size = await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize));
  assert.ok(size >= 20, `elder mode text is larger (root font-size ${size}px)`);

  // Navigate on by keyboard: both settings persist.
  await tabTo(page, 'main a', { text: 'Staff sign-in' });
  await enterAndWait(page);
  assert.equal(path(page), '/staff/login');
  assert.deepEqual(await htmlState(page), { lang: 'en', elder: true });
  await axe(page, 'staff sign-in, English elder');

  // Sign in: the workbench keeps the settings, too.
  await signIn(page, app, 'street', { goto: false });
  assert.deepEqual(await htmlState(page), { lang: 'en', elder: true });
  assert.match(await page.locator('nav.main-nav').innerText(), /Registry/);

  // The cookies persist beyond the browser session (a year).
  const cookies = await page.context().cookies(app.url);
  for (const name of ['zhucan_lang', 'zhucan_elder']) {
    const c = cookies.find((k) => k.name === name);
    assert.ok(c, `${name} cookie set`);
    assert.ok(c.expires > Date.now() / 1000 + 300 * 24 * 3600, `${name} persists (expires ${c.expires})`);
  }

  // Back to Chinese and the standard view, by keyboard.
  await tabTo(page, 'header a', { text: '中文' });
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute('lang')), 'zh-CN');
  await enterAndWait(page);
  assert.deepEqual(await htmlState(page), { lang: 'zh-CN', elder: true });
  await tabTo(page, 'header a', { text: '标准版' });
  await enterAndWait(page);
  assert.deepEqual(await htmlState(page), { lang: 'zh-CN', elder: false });
  assert.equal(path(page), '/staff', 'still on the dashboard');
});

test('(f) apply by keyboard: start, a question (error, then answered), materials, check, submit', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/login`);
  await page.locator('#phone').fill(RESIDENT_PHONE);
  const from = app.server.logOffset();
  await Promise.all([page.waitForNavigation(), page.locator('main button[type=submit]').first().click()]);
  await page.locator('#code').fill(await readCode(app, from));
  await Promise.all([page.waitForURL('**/me'), page.locator('form[action="/login/verify"] button[type=submit]').click()]);

  // The start page: who for (the demo resident applies for themself), then "Start now".
  await page.goto(`${app.url}/services/wheelchair-fuel/apply`);
  const people = page.locator('main input[type=radio][name=person]');
  if (await people.count()) {
    await tabTo(page, 'main input[type=radio][name=person]');
    await page.keyboard.press('Space');
  }
  await tabTo(page, 'main button[type=submit]', { text: '开始申请' });
  await enterAndWait(page);
  assert.match(path(page), /^\/me\/cases\/[^/]+\/questions\/1$/);
  const casePath = path(page).replace(/\/questions\/1$/, '');
  assert.ok(await page.locator('legend h1').count(), 'the question is the page heading');

  // Continue without an answer: the error summary takes focus and links to the radios.
  await tabTo(page, 'main button[type=submit]', { text: '继续' });
  await enterAndWait(page);
  await page.waitForFunction(() => document.activeElement?.matches('.error-summary'));
  await tabTo(page, '.error-summary a', { max: 1 });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.activeElement?.id === 'answer');
  await page.keyboard.press('Space');
  assert.ok(await page.locator('#answer').isChecked(), 'Space chooses the first answer');
  await tabTo(page, 'main button[type=submit]', { text: '继续' });
  await enterAndWait(page);
  assert.equal(path(page), `${casePath}/materials`);

  // Files are chosen through the system's dialog, which a test cannot drive: set them, then
  // upload and continue by keyboard.
  const inputs = page.locator('main input[type=file]');
  for (let i = 0; i < await inputs.count(); i++) {
    await inputs.nth(i).setInputFiles({ name: `scan-${i}.pdf`, mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n') });
  }
  await focusTop(page);
  await tabTo(page, 'main button[type=submit]', { text: '上传所选文件' });
  await enterAndWait(page);
  assert.match(await page.locator('main [role=status]').innerText(), /已上传文件：5/);
  await tabTo(page, 'main a.button', { text: '继续' });
  await enterAndWait(page);
  assert.equal(path(page), `${casePath}/check`);
  assert.equal(await page.locator('.error-summary').count(), 0, 'nothing is missing');
  assert.match(await page.locator('main').innerText(), /scan-0\.pdf/);

  // Declaration, then submit: the confirmation names the case number.
  await tabTo(page, '#confirm');
  await page.keyboard.press('Space');
  await tabTo(page, '#send button[type=submit]', { max: 3 });
  await enterAndWait(page);
  assert.equal(path(page), `${casePath}/confirmation`);
  assert.match(await page.locator('.confirmation-panel').innerText(), /510112-\d{4}-\d{6}/);
  await axe(page, 'application submitted, by keyboard');
});
