// Keyboard-only journeys in the staff workbench. Fields are reached with Tab / Shift+Tab and
// typed into; links and buttons are activated with Enter or Space. No mouse, no element.click(),
// no page.fill(). page.goto() is used only to open a journey's first page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  useApp, newPage, signIn, tabTo, focused, focusTop, enterAndWait, axe,
  RESIDENT_PHONE, RESIDENT_NAME,
} from '../lib.mjs';
import { residentId } from '../data.mjs';

const app = useApp();

const mainText = (page) => page.locator('main').innerText();
const path = (page) => new URL(page.url()).pathname;

test('(a) staff sign-in: skip link, then user name and password by keyboard', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/staff/login`);

  // The first Tab from the top of the page reaches the skip link, which is then visible.
  await focusTop(page);
  await page.keyboard.press('Tab');
  const first = await focused(page);
  assert.equal(first.cls, 'skip-link', `first Tab focused ${JSON.stringify(first)}`);
  const box = await page.locator('a.skip-link').boundingBox();
  assert.ok(box && box.x >= 0 && box.y >= 0 && box.width > 10, `skip link visible when focused: ${JSON.stringify(box)}`);

  // Enter moves focus to <main>.
  await page.keyboard.press('Enter');
  assert.equal((await focused(page)).id, 'main', 'focus after the skip link');
  assert.match(page.url(), /#main$/);

  // The next Tab lands on the user name: nothing focusable sits before it in <main>.
  assert.equal(await tabTo(page, '#username', { max: 1 }), 1);
  await page.keyboard.type('admin');
  assert.equal(await tabTo(page, '#password', { max: 1 }), 1);
  await page.keyboard.type('Demo@2026');
  await enterAndWait(page);

  assert.equal(path(page), '/staff');
  assert.match(await page.locator('h1').innerText(), /工作台/);
  assert.match(await page.locator('header').innerText(), /退出登录/);
  assert.equal(await page.locator('nav.main-nav a[aria-current="page"]').getAttribute('href'), '/staff');
});

test('(a) staff sign-in with a wrong password shows the error summary, focused', async () => {
  const page = await newPage(app);
  await page.goto(`${app.url}/staff/login`);
  await focusTop(page);
  await tabTo(page, '#username');
  await page.keyboard.type('street');
  await tabTo(page, '#password', { max: 1 });
  await page.keyboard.type('wrong-password');
  await enterAndWait(page);
  assert.equal(path(page), '/staff/login');
  await page.waitForFunction(() => document.activeElement?.matches('.error-summary'));
  // The user name is kept; the password is not.
  assert.equal(await page.locator('#username').inputValue(), 'street');
  assert.equal(await page.locator('#password').inputValue(), '');
  await axe(page, 'staff sign-in, wrong password');
});

test('(a) sign out with the keyboard', async () => {
  const page = await newPage(app);
  await signIn(page, app, 'district');
  await focusTop(page);
  await tabTo(page, 'header button[type=submit]', { text: '退出登录', max: 10 });
  await enterAndWait(page);
  // Signed out: the workbench sends us to the sign-in page.
  await page.goto(`${app.url}/staff`);
  assert.equal(path(page), '/staff/login');
});

test('(b) registry: search, open, edit the address, save, see it in the history', async () => {
  const page = await newPage(app);
  await signIn(page, app, 'community');
  assert.equal(path(page), '/staff');

  // Dashboard → registry through the workbench navigation.
  await focusTop(page);
  await tabTo(page, 'nav.main-nav a', { text: '残疾人名册' });
  await enterAndWait(page);
  assert.equal(path(page), '/staff/persons');
  assert.equal(await page.locator('nav.main-nav a[aria-current="page"]').innerText(), '残疾人名册');

  // Search by phone; Enter in the search field submits the form.
  await focusTop(page);
  await tabTo(page, '#q');
  await page.keyboard.type(RESIDENT_PHONE);
  await enterAndWait(page);
  assert.match(page.url(), new RegExp(`q=${RESIDENT_PHONE}`));
  assert.match(await page.locator('main [role=status]').innerText(), /共找到\s*1\s*人/);

  // Open the result.
  await tabTo(page, 'main table a', { text: RESIDENT_NAME });
  await enterAndWait(page);
  assert.match(path(page), /^\/staff\/persons\/[^/]+$/);
  const personPath = path(page);
  assert.match(await page.locator('h1').innerText(), new RegExp(RESIDENT_NAME));

  // Edit.
  await focusTop(page);
  await tabTo(page, 'main a', { text: '修改档案' });
  await enterAndWait(page);
  assert.equal(path(page), `${personPath}/edit`);

  const newAddress = `龙泉驿区龙泉街道驿都社区 ${Date.now() % 100000} 号（键盘测试）`;
  await focusTop(page);
  await tabTo(page, '#address');
  await page.keyboard.press('Control+A');
  await page.keyboard.type(newAddress);
  // Save: Tab on to the Save button and press Space (a button activates with Space, too).
  await tabTo(page, 'main form button[type=submit]');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Space')]);

  assert.equal(path(page), personPath);
  const status = page.locator('main [role=status]');
  assert.match(await status.innerText(), /已保存/);
  assert.match(await mainText(page), new RegExp(newAddress.replace(/[()（）]/g, '.')));

  // History: 变更记录 shows the change.
  await focusTop(page);
  await tabTo(page, 'main a', { text: '变更记录' });
  await enterAndWait(page);
  assert.equal(path(page), `${personPath}/history`);
  const history = await page.locator('main table').innerText();
  assert.ok(history.includes(newAddress), `history shows the new address; got:\n${history.slice(0, 1500)}`);
  assert.match(history, /地址：/);
  assert.doesNotMatch(history, /\baddress\b/, "fields are named in plain words");

  // Back to the record by keyboard.
  await focusTop(page);
  await tabTo(page, 'main a', { text: '返回档案' });
  await enterAndWait(page);
  assert.equal(path(page), personPath);
});

test('(c) create: empty submit → error summary takes focus → its link moves focus to the field → fix and save', async () => {
  const page = await newPage(app);
  await signIn(page, app, 'admin');

  await focusTop(page);
  await tabTo(page, 'nav.main-nav a', { text: '新增登记' });
  await enterAndWait(page);
  assert.equal(path(page), '/staff/persons/new');

  // Submit the empty form from the Save button.
  await tabTo(page, 'main form button[type=submit]');
  await enterAndWait(page);

  // The error summary has focus (app.js) and is announced (role=alert).
  await page.waitForFunction(() => document.activeElement?.matches('.error-summary'), null, { timeout: 5000 });
  const summary = page.locator('.error-summary');
  assert.equal(await summary.getAttribute('role'), 'alert');
  const links = await summary.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(links.length >= 1, 'error summary lists at least one error');
  for (const href of links) {
    assert.match(href, /^#[a-z_]+$/);
    assert.equal(await page.locator(href).count(), 1, `error link ${href} points at one field`);
    assert.equal(await page.locator(href).getAttribute('aria-invalid'), 'true', `${href} is marked invalid`);
    const describedBy = (await page.locator(href).getAttribute('aria-describedby')) || '';
    assert.match(describedBy, new RegExp(`${href.slice(1)}-error`), `${href} is described by its error message`);
  }

  // Tab from the summary reaches its first link; Enter moves focus to the matching field.
  assert.equal(await tabTo(page, '.error-summary a', { max: 1 }), 1);
  const firstHref = (await focused(page)).href;
  await page.keyboard.press('Enter');
  await page.waitForFunction((id) => document.activeElement?.id === id, firstHref.slice(1), { timeout: 3000 })
    .catch(async () => assert.fail(`after following ${firstHref}, focus is on ${JSON.stringify(await focused(page))}`));
  assert.equal(firstHref, '#resident_id', 'the first error is about the first field');

  // Fix: fill the required fields in order, by keyboard.
  const rid = residentId();
  await page.keyboard.type(rid);
  await tabTo(page, '#name', { max: 1 });
  await page.keyboard.type('键盘测试');
  await tabTo(page, '#division_code', { max: 5 });
  await page.keyboard.press('ArrowDown'); // first community after "请选择"
  const division = await page.locator('#division_code').inputValue();
  assert.match(division, /^510112\d{6}$/, 'a community chosen with the arrow key');
  await tabTo(page, 'main form button[type=submit]');
  await enterAndWait(page);

  assert.match(path(page), /^\/staff\/persons\/[^/]+$/, `saved; on ${page.url()}: ${(await mainText(page)).slice(0, 400)}`);
  assert.match(await page.locator('main [role=status]').innerText(), /已保存/);
  assert.match(await page.locator('h1').innerText(), /键盘测试/);
  assert.match(await mainText(page), new RegExp(rid));
});

test('(f) scope: a community worker gets 404 for a person of another street', async () => {
  // The admin picks a person in another street (龙泉驿区 510112002) from the filtered registry.
  const admin = await newPage(app);
  await signIn(admin, app, 'admin');
  await admin.goto(`${app.url}/staff/persons?division=510112002`);
  const otherHref = await admin.locator('main table tbody a').first().getAttribute('href');
  assert.match(otherHref, /^\/staff\/persons\/[^/]+$/);
  await admin.goto(`${app.url}/staff/persons?q=${RESIDENT_PHONE}`);
  const ownHref = await admin.locator('main table tbody a').first().getAttribute('href');
  await admin.context().close();

  const page = await newPage(app);
  await signIn(page, app, 'community');
  for (const suffix of ['', '/edit', '/history']) {
    const resp = await page.goto(`${app.url}${otherHref}${suffix}`);
    assert.equal(resp.status(), 404, `community worker requesting ${otherHref}${suffix}`);
    assert.doesNotMatch(await page.content(), /公民身份号码<\/dt>/, 'no record details on the 404 page');
  }
  // The not-found page itself is accessible.
  await axe(page, 'not-found page');
  // … while a person of the worker's own community opens.
  const own = await page.goto(`${app.url}${ownHref}`);
  assert.equal(own.status(), 200);
  assert.match(await page.locator('h1').innerText(), new RegExp(RESIDENT_NAME));
  // And the worker's registry never lists the other street.
  await page.goto(`${app.url}/staff/persons?division=510112002`);
  const hrefs = await page.locator('main table tbody a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.ok(!hrefs.includes(otherHref), 'the other street’s person is not listed');
});
