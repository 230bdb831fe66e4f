// Visible focus, 44px touch targets, the axe helper's own self-test, and screenshots of a few
// pages in each display mode (written to e2e/artifacts/, for a person to look at).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { useApp, newPage, signIn, axe, screenshot, focused, RESIDENT_PHONE } from '../lib.mjs';

const app = useApp();

/** Tabs through the page (up to `max` stops) and returns the focus style of each stop. */
async function focusStops(page, max = 40) {
  const stops = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const s = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e || e === document.body) return null;
      const cs = getComputedStyle(e);
      const r = e.getBoundingClientRect();
      return {
        what: `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + String(e.className).split(' ').join('.') : ''} "${(e.innerText || e.value || '').trim().slice(0, 24)}"`,
        outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`,
        hasOutline: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2,
        hasShadow: cs.boxShadow !== 'none',
        focusVisible: e.matches(':focus-visible'),
        height: r.height,
        key: e.outerHTML.slice(0, 120),
      };
    });
    if (!s) continue;
    if (stops.length && stops[0].key === s.key) break; // wrapped around
    stops.push(s);
  }
  return stops;
}

describe('visible focus', () => {
  for (const elder of [false, true]) {
    test(`every Tab stop has an outline or a focus ring${elder ? ' (elder mode)' : ''}`, async () => {
      const anon = await newPage(app, { elder });
      const staff = await newPage(app, { elder });
      await signIn(staff, app, 'admin');
      const checks = [
        [anon, '/'],
        [anon, '/login'],
        [anon, '/staff/login'],
        [staff, '/staff'],
        [staff, `/staff/persons?q=${RESIDENT_PHONE}`],
        [staff, '/staff/persons/new'],
        [staff, '/staff/import'],
        [staff, '/staff/export'],
      ];
      const bad = [];
      let total = 0;
      for (const [page, p] of checks) {
        await page.goto(`${app.url}${p}`);
        const stops = await focusStops(page);
        assert.ok(stops.length >= 3, `${p}: at least 3 Tab stops, got ${stops.length}`);
        total += stops.length;
        for (const s of stops) {
          if (!s.focusVisible || !(s.hasOutline || s.hasShadow)) bad.push(`${p}: ${s.what} outline=${s.outline} shadow=${s.hasShadow} :focus-visible=${s.focusVisible}`);
        }
      }
      assert.ok(total > 40, `checked ${total} Tab stops`);
      assert.deepEqual(bad, [], 'Tab stops without a visible focus indicator');
    });
  }
});

describe('touch targets', () => {
  // Buttons, button-like links, header and navigation links and paging links: ≥ 44px high.
  const SELECTOR = 'button, .button, input[type=submit], nav a, .header-tools a, .brand, .pagination a, .actions a';
  test('buttons and navigation links are at least 44px high (standard view)', async () => {
    const anon = await newPage(app);
    const staff = await newPage(app);
    await signIn(staff, app, 'admin');
    const personHref = await (async () => {
      await staff.goto(`${app.url}/staff/persons?q=${RESIDENT_PHONE}`);
      return staff.locator('main table tbody a').first().getAttribute('href');
    })();
    const checks = [
      [anon, '/'], [anon, '/login'], [anon, '/staff/login'],
      [staff, '/staff'], [staff, '/staff/persons'], [staff, '/staff/persons?division=510112002&page=2'],
      [staff, personHref], [staff, `${personHref}/edit`], [staff, '/staff/import'], [staff, '/staff/export'],
    ];
    const small = [];
    let n = 0;
    for (const [page, p] of checks) {
      await page.goto(`${app.url}${p}`);
      const sizes = await page.locator(SELECTOR).evaluateAll((els) => els
        .filter((e) => e.offsetParent !== null) // visible
        .map((e) => ({ what: `${e.tagName.toLowerCase()} "${(e.innerText || e.value || '').trim().slice(0, 24)}"`, h: e.getBoundingClientRect().height, w: e.getBoundingClientRect().width })));
      n += sizes.length;
      for (const s of sizes) if (s.h < 44 - 0.5) small.push(`${p}: ${s.what} is ${s.h.toFixed(1)}×${s.w.toFixed(1)}px`);
    }
    assert.ok(n > 50, `measured ${n} targets`);
    assert.deepEqual(small, [], 'targets under 44px high');
  });

  test('checkboxes and radio buttons are at least 24px (WCAG 2.5.8)', async () => {
    const staff = await newPage(app);
    await signIn(staff, app, 'admin');
    const small = [];
    for (const p of ['/staff/import', '/staff/export']) {
      await staff.goto(`${app.url}${p}`);
      const sizes = await staff.locator('input[type=checkbox], input[type=radio]').evaluateAll((els) => els.map((e) => ({ id: e.id, h: e.getBoundingClientRect().height, w: e.getBoundingClientRect().width })));
      assert.ok(sizes.length > 0, `${p} has checkboxes or radios`);
      for (const s of sizes) if (s.h < 24 || s.w < 24) small.push(`${p}: #${s.id} ${s.w}×${s.h}`);
    }
    assert.deepEqual(small, []);
  });
});

describe('reflow at 320 CSS pixels (WCAG 1.4.10)', () => {
  for (const elder of [false, true]) {
    test(`no page scrolls sideways at 320px${elder ? ' (elder mode)' : ''}; only tables may`, async () => {
      const viewport = { width: 320, height: 640 };
      const anon = await newPage(app, { elder, viewport });
      const staff = await newPage(app, { elder, viewport });
      await signIn(staff, app, 'admin');
      await staff.goto(`${app.url}/staff/persons?q=${RESIDENT_PHONE}`);
      const href = await staff.locator('main table tbody a').first().getAttribute('href');
      const checks = [
        [anon, '/'], [anon, '/login'], [anon, '/staff/login'],
        [staff, '/staff'], [staff, '/staff/persons'], [staff, href], [staff, `${href}/edit`],
        [staff, `${href}/history`], [staff, '/staff/import'], [staff, '/staff/export'], [staff, '/staff/outbox'], [staff, '/staff/audit'],
      ];
      const wide = [];
      for (const [page, p] of checks) {
        await page.goto(`${app.url}${p}`);
        const r = await page.evaluate(() => ({
          scrollWidth: document.documentElement.scrollWidth,
          culprits: [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap'))
            .slice(0, 3).map((e) => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''}`),
        }));
        if (r.scrollWidth > 321) wide.push(`${p}: page is ${r.scrollWidth}px wide (${r.culprits.join(', ')})`);
      }
      const tag = elder ? 'reflow-320-elder' : 'reflow-320';
      await screenshot(anon, `${tag}-staff-login`);
      await staff.goto(`${app.url}/staff`);
      await screenshot(staff, `${tag}-dashboard`);
      assert.deepEqual(wide, []);
    });
  }
});

test('the axe helper fails on serious violations (self-test)', async () => {
  const page = await newPage(app);
  await page.setContent('<!doctype html><html><body><img src="x.png"><input><p style="color:#aaa;background:#fff">Low contrast text</p></body></html>');
  await assert.rejects(() => axe(page, 'self-test'), (err) => {
    for (const rule of ['image-alt', 'label', 'html-has-lang', 'color-contrast']) assert.match(err.message, new RegExp(rule));
    return true;
  });
});

test('an unknown URL gets the accessible HTML not-found page', async () => {
  const page = await newPage(app);
  const resp = await page.goto(`${app.url}/no-such-page`).catch((e) => assert.fail(String(e.message).split('\n')[0]));
  assert.equal(resp.status(), 404);
  assert.match(await page.locator('h1').innerText(), /找不到/);
  await axe(page, 'unknown URL');
});

test('screenshots of a few pages in each mode (e2e/artifacts/)', async () => {
  const modes = [
    ['zh', {}], ['en', { lang: 'en' }], ['zh-elder', { elder: true }], ['en-elder', { lang: 'en', elder: true }],
  ];
  const files = [];
  for (const [key, opts] of modes) {
    const anon = await newPage(app, opts);
    await anon.goto(`${app.url}/`);
    files.push(await screenshot(anon, `${key}-portal-home`));
    const staff = await newPage(app, opts);
    await signIn(staff, app, 'admin');
    files.push(await screenshot(staff, `${key}-staff-dashboard`));
    await staff.goto(`${app.url}/staff/persons?q=${RESIDENT_PHONE}`);
    const href = await staff.locator('main table tbody a').first().getAttribute('href');
    await staff.goto(`${app.url}/staff/persons?division=510112001`);
    files.push(await screenshot(staff, `${key}-registry`));
    await staff.goto(`${app.url}${href}`);
    files.push(await screenshot(staff, `${key}-person`));
    await staff.goto(`${app.url}/staff/persons/new`);
    await staff.locator('main form').evaluate((f) => f.requestSubmit());
    await staff.waitForLoadState('load');
    await staff.locator('.error-summary').waitFor();
    // keyboard focus on the first error link, to see the focus style
    await staff.keyboard.press('Tab');
    assert.match((await focused(staff)).href, /^#/);
    await staff.screenshot({ path: files[files.length - 1].replace(/person\.png$/, 'create-errors-viewport.png') });
    files.push(await screenshot(staff, `${key}-create-errors`));
    await staff.context().close();
    await anon.context().close();
  }
  assert.ok(files.length >= 16);
});
