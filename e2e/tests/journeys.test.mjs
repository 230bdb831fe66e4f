// For each kind of review chain in the catalog: the resident applies, each level decides, the
// resident sees the result — all with the keyboard only (files are set directly: a system file
// dialog cannot be driven). Also a case returned for correction and corrected, a case rejected
// through an objection to its public notice, and delivery through a provider's task.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { useApp, newPage, tabTo, enterAndWait, focusTop, readCode, axe, signIn, RESIDENT_PHONE } from '../lib.mjs';

const app = useApp();
const path = (page) => new URL(page.url()).pathname;

// ---- one signed-in page per user, made on first use
const pages = new Map();
async function as(user) {
  if (!pages.has(user)) {
    const page = await newPage(app);
    if (user === 'resident') await residentSignIn(page);
    else if (user !== 'public') await signIn(page, app, user);
    pages.set(user, page);
  }
  return pages.get(user);
}

async function residentSignIn(page) {
  await page.goto(`${app.url}/login`);
  await tabTo(page, '#phone');
  await page.keyboard.type(RESIDENT_PHONE);
  const from = app.server.logOffset();
  await enterAndWait(page);
  const code = await readCode(app, from);
  await tabTo(page, '#code');
  await page.keyboard.type(code);
  await enterAndWait(page);
  assert.equal(path(page), '/me');
}

/** Starts an application for `code` and answers its questions, up to the materials page. */
async function startApplication(code) {
  const page = await as('resident');
  await page.goto(`${app.url}/services/${code}/apply`);
  if (await page.locator('main input[type=radio][name=person]').count()) {
    await tabTo(page, 'main input[type=radio][name=person]');
    await page.keyboard.press('Space');
  }
  await tabTo(page, 'main button[type=submit]', { text: '开始申请' });
  await enterAndWait(page);
  // One question a page: the first option of a choice, or a text.
  while (/\/questions\/\d+$/.test(path(page))) {
    await tabTo(page, '#answer');
    if ((await page.locator('#answer').getAttribute('type')) === 'radio') await page.keyboard.press('Space');
    else await page.keyboard.type('测试');
    await tabTo(page, 'main button[type=submit]', { text: '继续' });
    await enterAndWait(page);
  }
  assert.match(path(page), /\/materials$/);
  return page;
}

/** Applies for `code` page by page; returns the case's path and number. */
async function apply(code) {
  const page = await startApplication(code);
  await uploadAll(page);
  await tabTo(page, 'main a.button', { text: '继续' });
  await enterAndWait(page);
  await send(page, '提交申请');
  assert.match(path(page), /\/confirmation$/);
  const number = (await page.locator('.confirmation-panel').innerText()).match(/510112-\d{4}-\d{6}/)[0];
  return { path: path(page).replace(/\/confirmation$/, ''), number };
}

async function uploadAll(page) {
  const inputs = page.locator('main input[type=file]');
  const n = await inputs.count();
  for (let i = 0; i < n; i++) {
    await inputs.nth(i).setInputFiles({ name: `scan-${i}.pdf`, mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n') });
  }
  await focusTop(page);
  await tabTo(page, 'main button[type=submit]', { text: '上传所选文件' });
  await enterAndWait(page);
}

/** On the check page: the declaration, then the submit (or resubmit) button. */
async function send(page, label) {
  assert.match(path(page), /\/check$/);
  await tabTo(page, '#confirm');
  await page.keyboard.press('Space');
  await tabTo(page, '#send button[type=submit]', { text: label, max: 5 });
  await enterAndWait(page);
}

/**
 * `user` opens the case from the queue of `step` and records `decision`, filling the fields
 * in `fill` (id → text typed, or a number of ArrowDown presses for a select).
 */
async function decide(user, step, number, decision = 'approve', fill = {}, { check = false } = {}) {
  const page = await as(user);
  await page.goto(`${app.url}/staff/cases?step=${step}`);
  await tabTo(page, 'main table a', { text: number });
  await enterAndWait(page);
  if (check) await axe(page, `case page of ${number} at ${step}`);
  // A radio group is one Tab stop; the arrow keys choose within it.
  await tabTo(page, 'main input[name=decision]');
  await page.keyboard.press('Space');
  const order = ['approve', 'return', 'reject', 'send_back'];
  for (let i = 0; i < order.indexOf(decision); i++) await page.keyboard.press('ArrowDown');
  assert.ok(await page.locator(`#decision-${decision}`).isChecked(), `${decision} chosen`);
  for (const [id, value] of Object.entries(fill)) {
    await tabTo(page, `#${id}`);
    if (typeof value === 'number') for (let i = 0; i < value; i++) await page.keyboard.press('ArrowDown');
    else await page.keyboard.type(value);
  }
  await tabTo(page, 'main button[type=submit]', { text: '提交决定' });
  await enterAndWait(page);
  assert.match(page.url(), new RegExp(`done=${number}`), `${user} at ${step}: ${await page.locator('main').innerText()}`);
}

/** What the resident reads on the case page. */
async function residentSees(casePath) {
  const page = await as('resident');
  await page.goto(`${app.url}${casePath}`);
  return page.locator('main').innerText();
}

before(async () => { await as('resident'); }, { timeout: 120000 });

test('a file uploaded by mistake is removed with the keyboard', async () => {
  const page = await startApplication('home-accessibility');
  await page.locator('main input[type=file]').first()
    .setInputFiles({ name: 'wrong-file.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n') });
  await focusTop(page);
  await tabTo(page, 'main button[type=submit]', { text: '上传所选文件' });
  await enterAndWait(page);
  assert.match(await page.locator('main').innerText(), /wrong-file\.pdf/);
  await axe(page, 'materials with a file that can be removed');
  await focusTop(page);
  // The button's accessible name says which file it removes.
  await tabTo(page, 'main button[form^="remove-"]', { text: '删除' });
  assert.match(await page.evaluate(() => document.activeElement.textContent), /删除\s*wrong-file\.pdf/);
  await enterAndWait(page);
  const main = await page.locator('main').innerText();
  assert.match(main, /已删除文件：.*wrong-file\.pdf/);
  assert.equal(await page.locator('main button[form^="remove-"]').count(), 0);
  await axe(page, 'materials after a removal');
});

test('[district] certificate replacement: approved and closed', async () => {
  const c = await apply('cert-replace');
  await decide('district', 'district', c.number);
  assert.match(await residentSees(c.path), /已办结/);
});

test('[health, district] category change: the assessment is stated at the last step', async () => {
  const c = await apply('cert-change');
  await decide('district', 'health', c.number);
  await decide('district', 'district', c.number, 'approve', { category: 2, grade: 3 }, { check: true });
  const seen = await residentSees(c.path);
  assert.match(seen, /已办结/);
});

test('[street, health, district] first certificate: rejected with its reason, which the resident reads', async () => {
  const c = await apply('cert-new');
  await decide('street', 'street', c.number);
  await decide('district', 'health', c.number);
  await decide('district', 'district', c.number, 'reject', { reason: '已持有有效的残疾人证' });
  const seen = await residentSees(c.path);
  assert.match(seen, /不予批准/);
  assert.match(seen, /已持有有效的残疾人证/);
});

test('[street, district] fuel subsidy: returned for correction, corrected, approved, granted', async () => {
  const c = await apply('wheelchair-fuel');
  await decide('street', 'street', c.number, 'return', { missing: '机动轮椅车行驶证' });
  let seen = await residentSees(c.path);
  assert.match(seen, /需要补正/);
  assert.match(seen, /机动轮椅车行驶证/);
  // Upload what was missing and resubmit, from the case page.
  const page = await as('resident');
  await tabTo(page, 'main a', { text: '上传补充材料' });
  await enterAndWait(page);
  await uploadAll(page);
  await tabTo(page, 'main a.button', { text: '继续' });
  await enterAndWait(page);
  await send(page, '重新提交');
  await decide('street', 'street', c.number);
  await decide('district', 'district', c.number);
  seen = await residentSees(c.path);
  assert.match(seen, /已办结/);
  assert.match(seen, /260/);
  await axe(page, 'a granted case, seen by the resident');
});

test('[street, district, civil affairs] living subsidy: public notice, an objection upheld', async () => {
  const c = await apply('living-subsidy');
  await decide('street', 'street', c.number);
  await decide('district', 'district', c.number);
  await decide('district', 'civil_affairs', c.number);
  assert.match(await residentSees(c.path), /公示/);

  // Anyone objects from the public notice page.
  const pub = await as('public');
  await pub.goto(`${app.url}/notice`);
  assert.doesNotMatch(await pub.locator('main').innerText(), new RegExp(c.number));
  await axe(pub, 'public notices with an entry');
  await tabTo(pub, 'main table a', { text: '提出异议' });
  await enterAndWait(pub);
  await axe(pub, 'objection form');
  await tabTo(pub, '#raised_by');
  await pub.keyboard.type('王五');
  await tabTo(pub, '#body');
  await pub.keyboard.type('其家庭收入已超过低保标准');
  await tabTo(pub, 'main button[type=submit]');
  await enterAndWait(pub);
  assert.match(await pub.locator('main').innerText(), /您的异议已记录/);
  await axe(pub, 'objection recorded');

  // The district checks it on the case page and upholds it.
  const district = await as('district');
  await district.goto(`${app.url}/staff/cases/${c.path.split('/').pop()}`);
  assert.match(await district.locator('main').innerText(), /其家庭收入已超过低保标准/);
  await axe(district, 'case page with an open objection');
  await tabTo(district, 'main form[action^="/staff/objections/"] input[name=decision]');
  await district.keyboard.press('ArrowDown');
  assert.ok(await district.locator('main input[value=uphold]').isChecked(), 'upheld chosen');
  await tabTo(district, 'main form[action^="/staff/objections/"] textarea');
  await district.keyboard.type('经核实家庭收入超标');
  await tabTo(district, 'main button[type=submit]', { text: '记录核实结论' });
  await enterAndWait(district);
  const seen = await residentSees(c.path);
  assert.match(seen, /不予批准/);
  assert.match(seen, /经核实家庭收入超标/);
});

test('[street, district, provider] device fitting: the provider delivers through its task', async () => {
  const c = await apply('device-fitting');
  await decide('street', 'street', c.number);
  await decide('district', 'district', c.number);
  await decide('provider', 'provider', c.number);
  assert.match(await residentSees(c.path), /已批准/);
  const provider = await as('provider');
  await provider.goto(`${app.url}/staff/tasks`);
  await axe(provider, 'tasks with an open delivery task');
  await tabTo(provider, 'main a', { text: c.number });
  await tabTo(provider, 'main textarea[name=note]');
  await provider.keyboard.type('已上门适配轮椅并培训使用');
  await tabTo(provider, 'main button[type=submit]', { text: '标记为已完成' });
  await enterAndWait(provider);
  assert.match(await residentSees(c.path), /已办结/);
});

test('[district, provider] vocational training: approved at both levels, waiting for delivery', async () => {
  const c = await apply('vocational-training');
  await decide('district', 'district', c.number);
  await decide('provider', 'provider', c.number);
  assert.match(await residentSees(c.path), /已批准/);
});

test('[district, health] medication subsidy: approved at both levels', async () => {
  const c = await apply('psych-medication');
  await decide('district', 'district', c.number);
  await decide('district', 'health', c.number);
  assert.match(await residentSees(c.path), /已批准/);
});
