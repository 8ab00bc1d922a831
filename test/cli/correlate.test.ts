// `correlate` with unusable and duplicate rows, and `search --bench` with a column that is not numeric,
// as a user runs them (child processes; no training).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allGenotypes, formatGenotype } from '../../src/spaces/nb201/genotype.js';
import { spearman, kendallTau } from '../../src/stats/rank.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gmnas-correlate-'));
const G = allGenotypes().slice(0, 6).map((g) => formatGenotype(g));
const TRUTH = [10, 20, 30, 40, 50, 60];

function run(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [RUN_JS, ...args], { encoding: 'utf8', env: { ...process.env, GMNAS_DEBUG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function write(name: string, text: string): string { const p = join(dir, name); writeFileSync(p, text); return p; }
const truth = write('truth.csv', `arch_str,acc\n${G.map((g, i) => `${g},${TRUTH[i]}`).join('\n')}\n`);
const json = (out: string): { shared: number; rows: { spearman: number; kendall: number }[] } => JSON.parse(out.trim().split('\n').pop()!);

test('rows without a usable score are skipped with a warning naming file:line, and counted', () => {
  const pred = write('pred.csv', `arch_str,val_accuracy\n${G[0]},1\n${G[1]},\n${G[2]},abc\n${G[3]},NaN\n${G[4]},5\n${G[5]},4\n`);
  const r = run(['correlate', '--pred', pred, '--truth', truth, '--column', 'acc', '--json']);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`${pred}:3: skipped: val_accuracy is empty`));
  assert.match(r.err, new RegExp(`${pred}:4: skipped: val_accuracy is 'abc', not a number`));
  assert.match(r.err, new RegExp(`${pred}:5: skipped: val_accuracy is 'NaN', not a number`));
  assert.match(r.err, /3 rows without a usable val_accuracy skipped, 0 duplicate genotypes merged; 3 genotypes used/);
  const res = json(r.out);
  assert.is(res.shared, 3);
  assert.ok(Math.abs(res.rows[res.rows.length - 1].spearman - spearman([1, 5, 4], [10, 50, 60])) < 1e-12);
});

test('a conflicting duplicate is refused naming both lines; --dedupe first|last|mean says which counts', () => {
  const pred = write('dup.csv', `arch_str,val_accuracy\n${G[0]},3\n${G[1]},2\n${G[2]},1\n${G[0]},9\n${G[1]},2\n`);
  const r = run(['correlate', '--pred', pred, '--truth', truth, '--column', 'acc']);
  assert.is(r.code, 1);
  assert.match(r.err, new RegExp(`${pred}:5: .* is also on line 2 with a different val_accuracy \\(9 vs 3\\); give --dedupe first\\|last\\|mean`));
  const expected = { first: [3, 2, 1], last: [9, 2, 1], mean: [6, 2, 1] };
  for (const [rule, p] of Object.entries(expected)) {
    const d = run(['correlate', '--pred', pred, '--truth', truth, '--column', 'acc', '--json', '--dedupe', rule]);
    assert.is(d.code, 0, d.err);
    assert.match(d.err, new RegExp(`${pred}:5: duplicate of line 2 with a different val_accuracy; --dedupe ${rule}`));
    assert.match(d.err, new RegExp(`${pred}:6: duplicate of line 3 \\(same val_accuracy\\); counted once`));
    const all = json(d.out).rows.at(-1)!;
    assert.ok(Math.abs(all.spearman - spearman(p, [10, 20, 30])) < 1e-12, `${rule}: ${all.spearman}`);
    assert.ok(Math.abs(all.kendall - kendallTau(p, [10, 20, 30])) < 1e-12, `${rule}: ${all.kendall}`);
  }
  const bad = run(['correlate', '--pred', pred, '--truth', truth, '--column', 'acc', '--dedupe', 'max']);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--dedupe max: expected one of first, last, mean/);
});

test('search --bench with a column that is not numeric is refused before any work', () => {
  const table = write('bench.csv', `arch_str,cifar10_test,note\n${G[0]},90,good\n${G[1]},x,bad\n`);
  for (const [col, re] of [['note', /--bench-column note: .*bench\.csv:2: column note: 'good' is not a number/],
    ['cifar10_test', /--bench-column cifar10_test: .*bench\.csv:3: column cifar10_test: 'x' is not a number/]] as const) {
    const r = run(['--space', 'nb201', '--preset', 'tiny', '--device', 'cpu', '--bench', table, '--bench-column', col, '--out', join(dir, `run-${col}`), '--quiet']);
    assert.is(r.code, 2, r.err);
    assert.match(r.err, re);
    assert.not.match(r.err + r.out, /epoch/);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
