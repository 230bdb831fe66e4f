// axe-core on every page, for every role that sees it, in zh-CN and English, standard and
// elder mode. Zero serious or critical violations allowed.
//
// Each role signs in once (its own browser context); the display mode is switched by setting
// the same cookies /prefs sets, and every page checks that <html lang> and the `elder` class
// really changed.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { useApp, newPage, axe, checkStructure, signIn, readCode, RESIDENT_PHONE, RESIDENT_NAME, screenshot } from '../lib.mjs';
import { importCsv } from '../data.mjs';

const app = useApp();

const MODES = [
  { key: 'zh', label: 'zh-CN', lang: 'zh-CN', elder: false },
  { key: 'en', label: 'English', lang: 'en', elder: false },
  { key: 'zh-elder', label: 'zh-CN elder', lang: 'zh-CN', elder: true },
  { key: 'en-elder', label: 'English elder', lang: 'en', elder: true },
];

// ---- one signed-in page per role, made on first use
const pages = new Map();
function pageFor(role) {
  if (!pages.has(role)) pages.set(role, makePage(role));
  return pages.get(role);
}
async function makePage(role) {
  const page = await newPage(app);
  if (role === 'anon') return page;
  if (role === 'resident') {
    await page.goto(`${app.url}/login`);
    await page.locator('#phone').fill(RESIDENT_PHONE);
    const from = app.server.logOffset();
    await Promise.all([page.waitForNavigation(), page.locator('main button[type=submit]').first().click()]);
    const code = await readCode(app, from);
    await page.locator('#code').fill(code);
    await Promise.all([page.waitForURL('**/me'), page.locator('form[action="/login/verify"] button[type=submit]').click()]);
    return page;
  }
  await signIn(page, app, role);
  return page;
}

async function setMode(page, mode) {
  await page.context().addCookies([
    { name: 'zhucan_lang', value: mode.lang, url: app.url },
    { name: 'zhucan_elder', value: mode.elder ? '1' : '0', url: app.url },
  ]);
}

// ---- ids found once, as admin
const ids = {};
before(async () => {
  const page = await pageFor('admin');
  await page.goto(`${app.url}/staff/persons?q=${RESIDENT_PHONE}`);
  const href = await page.locator('main table tbody a').first().getAttribute('href');
  ids.resident = href.split('/').pop();
}, { timeout: 120000 });

// ---- the resident's applications, made through the journey's pages on first use
const PDF = { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.7\n') };
const submitButton = (page) => page.locator('main form button[type=submit]').first();

// A new wheelchair-fuel draft: the start page's button, then question 1. Returns /me/cases/{id}.
async function startDraft(page) {
  await page.goto(`${app.url}/services/wheelchair-fuel/apply`);
  const people = page.locator('main input[type=radio][name=person]');
  if (await people.count()) await people.first().check();
  await Promise.all([page.waitForURL('**/questions/1'), submitButton(page).click()]);
  return new URL(page.url()).pathname.replace(/\/questions\/1$/, '');
}

// A draft with its question answered, and with every material uploaded when `files`.
async function answeredDraft(page, files) {
  const draft = await startDraft(page);
  await page.locator('main input[type=radio]').first().check();
  await Promise.all([page.waitForURL('**/materials'), submitButton(page).click()]);
  if (files) {
    const inputs = page.locator('main input[type=file]');
    for (let i = 0; i < await inputs.count(); i++) await inputs.nth(i).setInputFiles(PDF);
    await Promise.all([page.waitForURL('**/materials?uploaded=*'), submitButton(page).click()]);
  }
  return draft;
}

// A complete application, submitted from the check page. Returns /me/cases/{id}.
async function fileCase(page) {
  const draft = await answeredDraft(page, true);
  await page.goto(`${app.url}${draft}/check`);
  await page.locator('#confirm').check();
  await Promise.all([page.waitForURL('**/confirmation'), page.locator('#send button[type=submit]').click()]);
  return draft;
}

const made = new Map();
// `make(page)` once per key; later calls return what it returned.
function once(key, make) {
  if (!made.has(key)) made.set(key, make());
  return made.get(key);
}

let casePath;
async function ensureCase(page) {
  casePath = await once('case', () => fileCase(page));
  return casePath;
}

// A street reviewer decides a case of the resident's: `decision` with its text field.
async function decide(casePathname, decision, field, text) {
  const page = await pageFor('street');
  await page.goto(`${app.url}/staff/cases/${casePathname.split('/').pop()}`);
  await page.locator(`#decision-${decision}`).check();
  await page.locator(`#${field}`).fill(text);
  await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').last().click()]);
}

const returnedCase = (page) => once('returned', async () => {
  const c = await fileCase(page);
  await decide(c, 'return', 'missing', '低保证明');
  return c;
});
const rejectedCase = (page) => once('rejected', async () => {
  const c = await fileCase(page);
  await decide(c, 'reject', 'reason', '车辆不符合国家标准');
  return c;
});
const openDraft = (page) => once('draft', () => startDraft(page));
const draftWithoutFiles = (page) => once('no-files', () => answeredDraft(page, false));
const completeDraft = (page) => once('complete', () => answeredDraft(page, true));

// ---- the street reviewer opens the resident's application from the queue
async function openReviewCase(page) {
  if (!casePath) await ensureCase(await pageFor('resident'));
  await page.goto(`${app.url}/staff/cases?step=street`);
  await Promise.all([page.waitForNavigation(), page.locator('main table tbody a').first().click()]);
  await page.locator('#decision-approve').waitFor();
}

// ---- pages: [role, name, how to get there, expected HTTP status, modes]
// `go` is a path or an async function(page, mode) that ends on the page to check.
const ALL = MODES.map((m) => m.key);
const TWO = ['zh', 'en-elder'];
const PAGES = [
  ['anon', 'portal home /', '/'],
  ['anon', 'resident sign-in /login', '/login'],
  ['anon', 'resident sign-in, code form (POST /login/code)', async (page, mode) => {
    await page.goto(`${app.url}/login`);
    // a different (unregistered) number per mode: each code request counts against the number
    await page.locator('#phone').fill(`1390000000${MODES.findIndex((m) => m.key === mode.key)}`);
    await Promise.all([page.waitForNavigation(), page.locator('main button[type=submit]').first().click()]);
    await page.locator('#code').waitFor();
  }],
  ['anon', 'resident sign-in with errors', async (page) => {
    await page.goto(`${app.url}/login`);
    await page.locator('#phone').fill('12');
    await Promise.all([page.waitForNavigation(), page.locator('main button[type=submit]').first().click()]);
    await page.locator('.error-summary').waitFor();
  }],
  ['anon', 'staff sign-in /staff/login', '/staff/login'],
  ['anon', 'staff sign-in with errors (empty submit)', async (page) => {
    await page.goto(`${app.url}/staff/login`);
    await Promise.all([page.waitForNavigation(), page.locator('main button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }],
  ['anon', 'services /services', '/services'],
  ['anon', 'a service item', '/services/living-subsidy', 200, TWO],
  ['resident', 'my record /me', '/me'],
  ['resident', 'services with eligibility', '/services', 200, TWO],
  ['resident', 'a service item with its explanation', '/services/nursing-subsidy'],
  ['resident', 'portal home signed in', '/', 200, TWO],
  ['resident', 'application start page', '/services/wheelchair-fuel/apply'],
  ['resident', 'a question page', async (page) => {
    await page.goto(`${app.url}${await openDraft(page)}/questions/1`);
  }],
  ['resident', 'a question page with errors (no answer)', async (page) => {
    await page.goto(`${app.url}${await openDraft(page)}/questions/1`);
    await Promise.all([page.waitForNavigation(), submitButton(page).click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['resident', 'materials upload page', async (page) => {
    await page.goto(`${app.url}${await draftWithoutFiles(page)}/materials`);
  }],
  ['resident', 'materials with a refused file (not an image or PDF)', async (page) => {
    await page.goto(`${app.url}${await draftWithoutFiles(page)}/materials`);
    await page.locator('#material-0').setInputFiles({ name: 'form.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ not a pdf') });
    await Promise.all([page.waitForNavigation(), submitButton(page).click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['resident', 'check your answers, materials missing', async (page) => {
    await page.goto(`${app.url}${await draftWithoutFiles(page)}/check`);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['resident', 'check your answers', async (page) => {
    await page.goto(`${app.url}${await completeDraft(page)}/check`);
  }],
  ['resident', 'application submitted (confirmation)', async (page) => {
    await page.goto(`${app.url}${await ensureCase(page)}/confirmation`);
  }],
  ['resident', 'an application returned for correction (补正)', async (page) => {
    await page.goto(`${app.url}${await returnedCase(page)}`);
    await page.locator('#action-needed').waitFor();
  }],
  ['resident', 'a rejected application with its rating form', async (page) => {
    await page.goto(`${app.url}${await rejectedCase(page)}`);
    await page.locator('input[name=score]').first().waitFor();
  }],
  ['resident', 'the rating form with errors (nothing chosen)', async (page) => {
    await page.goto(`${app.url}${await rejectedCase(page)}`);
    await Promise.all([page.waitForNavigation(), page.locator('form[action$="/rating"] button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['resident', 'my applications /me/cases', async (page) => {
    await ensureCase(page);
    await page.goto(`${app.url}/me/cases`);
  }],
  ['resident', 'an application and its timeline', async (page) => {
    await page.goto(`${app.url}${await ensureCase(page)}`);
  }],
  ['resident', 'messages /me/messages', async (page) => {
    await ensureCase(page);
    await page.goto(`${app.url}/me/messages`);
  }],
  ['admin', 'dashboard /staff', '/staff'],
  ['admin', 'registry /staff/persons', '/staff/persons'],
  ['admin', 'registry search results', `/staff/persons?q=${encodeURIComponent(RESIDENT_NAME)}`],
  ['admin', 'registry filtered, page 2 (prev + next links)', '/staff/persons?division=510112002&page=2'],
  ['admin', 'registry, nothing found', '/staff/persons?q=%E6%97%A0%E6%AD%A4%E4%BA%BA', 200, TWO],
  ['admin', 'person record', () => `/staff/persons/${ids.resident}`],
  ['admin', 'person record after save', () => `/staff/persons/${ids.resident}?saved=1`, 200, TWO],
  ['admin', 'person edit form', () => `/staff/persons/${ids.resident}/edit`],
  ['admin', 'person history', () => `/staff/persons/${ids.resident}/history`],
  ['admin', 'create form /staff/persons/new', '/staff/persons/new'],
  ['admin', 'create form with errors (empty submit)', async (page) => {
    await page.goto(`${app.url}/staff/persons/new`);
    await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }],
  ['admin', 'import /staff/import', '/staff/import'],
  ['admin', 'import result with a rejected row', async (page, mode) => {
    await page.goto(`${app.url}/staff/import`);
    await page.locator('#file').setInputFiles(importCsv().file);
    if (mode.key !== 'zh') await page.locator('#dry_run').check(); // write only once
    await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').click()]);
    await page.locator('main table').waitFor();
    assert.match(await page.locator('main').innerText(), /(拒绝|rejected)\s*1/);
  }],
  ['admin', 'import with no file (errors)', async (page) => {
    await page.goto(`${app.url}/staff/import`);
    await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['admin', 'export /staff/export', '/staff/export'],
  // An unknown URL answers an empty 404 (no router fallback; see visual.test.mjs), so the
  // error page is checked through an unknown record.
  ['admin', 'not-found page (unknown record)', '/staff/persons/00000000-0000-7000-8000-000000000000', 404, TWO],
  ['admin', 'outbox /staff/outbox', '/staff/outbox'],
  ['admin', 'service items /staff/services', '/staff/services'],
  ['admin', 'a service item: versions, new-version form, facts', '/staff/services/living-subsidy'],
  ['admin', 'a service item with the rule tried', async (page) => {
    await page.goto(`${app.url}/staff/services/living-subsidy`);
    await Promise.all([page.waitForNavigation(), page.locator('main form button[value=try]').click()]);
    await page.locator('#trial-title').waitFor();
  }, 200, TWO],
  ['admin', 'a service item with a bad rule (errors)', async (page) => {
    await page.goto(`${app.url}/staff/services/living-subsidy`);
    await page.locator('#rule').fill('grade <= nope');
    await Promise.all([page.waitForNavigation(), page.locator('main form button[value=save]').click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['admin', 'holiday calendar /staff/holidays', '/staff/holidays'],
  ['admin', 'holiday calendar with errors (empty submit)', async (page) => {
    await page.goto(`${app.url}/staff/holidays`);
    await Promise.all([page.waitForNavigation(), page.locator('form[action="/staff/holidays"] button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }, 200, TWO],
  ['admin', 'audit log /staff/audit', '/staff/audit'],
  ['district', 'registry as district reviewer', '/staff/persons', 200, TWO],
  ['street', 'dashboard as street reviewer', '/staff', 200, TWO],
  ['street', 'person record as street reviewer', () => `/staff/persons/${ids.resident}`, 200, TWO],
  ['street', 'review queue as street reviewer', '/staff/cases', 200, TWO],
  ['street', 'a case to review, with its decision form', async (page) => {
    await openReviewCase(page);
  }],
  ['street', 'a case decision with errors (empty submit)', async (page) => {
    await openReviewCase(page);
    await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').last().click()]);
    await page.locator('.error-summary').waitFor();
  }, 422, TWO],
  ['district', 'review queue as district reviewer', '/staff/cases', 200, TWO],
  ['admin', 'review queue, civil affairs step (step selector)', '/staff/cases?step=civil_affairs', 200, TWO],
  ['community', 'dashboard as community worker', '/staff', 200, TWO],
  ['community', 'registry as community worker', '/staff/persons', 200, TWO],
  ['community', 'person record as community worker', () => `/staff/persons/${ids.resident}`, 200, TWO],
  ['community', 'apply on behalf: the items', () => `/staff/persons/${ids.resident}/apply`, 200, TWO],
  ['community', 'apply on behalf: the form', () => `/staff/persons/${ids.resident}/apply/wheelchair-fuel`, 200, TWO],
  ['community', 'apply on behalf with errors (empty submit)', async (page) => {
    await page.goto(`${app.url}/staff/persons/${ids.resident}/apply/wheelchair-fuel`);
    await Promise.all([page.waitForNavigation(), page.locator('main form button[type=submit]').click()]);
    await page.locator('.error-summary').waitFor();
  }, 422, TWO],
  ['street', 'tasks /staff/tasks', '/staff/tasks', 200, TWO],
  ['provider', 'review queue as provider', '/staff/cases', 200, TWO],
  ['anon', 'public notices /notice', '/notice', 200, TWO],
];

for (const mode of MODES) {
  describe(`axe, ${mode.label}`, () => {
    for (const [role, name, go, status = 200, modes = ALL] of PAGES) {
      if (!modes.includes(mode.key)) continue;
      test(`${role}: ${name}`, async () => {
        const page = await pageFor(role);
        await setMode(page, mode);
        if (typeof go === 'string' || go.length === 0) {
          const p = typeof go === 'string' ? go : go();
          const resp = await page.goto(`${app.url}${p}`);
          assert.equal(resp.status(), status, `HTTP status of ${p}`);
        } else {
          await go(page, mode);
        }
        if (status === 200) {
          const html = await page.evaluate(() => ({ lang: document.documentElement.lang, elder: document.documentElement.classList.contains('elder') }));
          assert.equal(html.lang, mode.lang, '<html lang>');
          assert.equal(html.elder, mode.elder, '<html class="elder">');
        }
        await axe(page, `${name} [${role}, ${mode.label}] ${page.url()}`);
        await checkStructure(page, `${name} [${role}, ${mode.label}]`);
        if (process.env.ZHUCAN_E2E_SCREENSHOTS) {
          await screenshot(page, `axe-${mode.key}-${role}-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 40)}`);
        }
      });
    }
  });
}
