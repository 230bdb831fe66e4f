// Test data: valid synthetic resident IDs (GB 11643 check digit) and a small import CSV.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

/** A valid 18-character resident ID in Longquanyi (510112), unlikely to collide with the demo data. */
export function residentId({ year, month, day, seq } = {}) {
  const r = (n) => Math.floor(Math.random() * n);
  year ??= 1940 + r(20);
  month ??= 1 + r(12);
  day ??= 1 + r(28);
  seq ??= 100 + r(900);
  const body = `510112${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${String(seq).padStart(3, '0')}`;
  const sum = [...body].reduce((s, c, i) => s + Number(c) * WEIGHTS[i], 0);
  return body + CHECK[sum % 11];
}

/** Writes a CSV with one good row and one bad row (a resident ID with a wrong check digit). */
export function importCsv() {
  const good = residentId();
  const badBase = residentId();
  const bad = badBase.slice(0, 17) + (badBase[17] === '0' ? '1' : '0');
  const dir = mkdtempSync(path.join(tmpdir(), 'zhucan-e2e-csv-'));
  const file = path.join(dir, 'import.csv');
  const rows = [
    '公民身份号码,姓名,行政区划代码,联系电话,地址',
    `${good},测试导入甲,510112001001,13900001111,龙泉街道测试地址 1 号`,
    `${bad},测试导入乙,510112001001,13900002222,龙泉街道测试地址 2 号`,
  ];
  writeFileSync(file, rows.join('\r\n') + '\r\n', 'utf8');
  return { file, good, bad };
}
