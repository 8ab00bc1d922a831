// experiments/leaf-diagnostics.mjs (issue [quality] item 5) on a hand-made ranking folder — no training:
// two leaves of a GM tree, a one-shot reference, a truth. Every figure of the report is recomputed here by
// brute force over the pairs (τ-b, τ inside and across leaves, the shifted-to-true-mean calibration,
// the children's true means of the split), so a wrong grouping, pairing or shift fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-leafdiag-'));

/** Kendall τ-b by brute force (independent of src/stats/rank.ts) */
function tauB(a: number[], b: number[]): number {
  let con = 0, dis = 0, tieA = 0, tieB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]), db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tieA++; else if (db === 0) tieB++; else if (da === db) con++; else dis++;
    }
  }
  return (con - dis) / Math.sqrt((con + dis + tieA) * (con + dis + tieB));
}
/** (concordant − discordant) / pairs over the pairs `keep` admits */
function pairTau(a: number[], b: number[], keep: (i: number, j: number) => boolean): number {
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i++) for (let j = i + 1; j < a.length; j++) if (keep(i, j)) { n++; s += Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j]); }
  return s / n;
}

test('leaf-diagnostics: τ overall, inside and across leaves, calibration and splits match a brute-force recount', () => {
  // 12 cells; the first op of edge 0 decides the leaf: {none, skip} → leaf 1, the rest → leaf 2
  const ops = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];
  const archs = Array.from({ length: 12 }, (_, i) =>
    `|${ops[i % 5]}~0|+|${ops[(i + 1) % 5]}~0|${ops[(i * 3) % 5]}~1|+|${ops[(i + 2) % 5]}~0|${ops[(i * 7) % 5]}~1|${ops[Math.floor(i / 5)]}~2|`);
  const leaf = archs.map((_, i) => (i % 5 < 2 ? 1 : 2));
  const truth = archs.map((_, i) => 70 + ((i * 7) % 12) * 0.5);
  const gm = archs.map((_, i) => 30 + ((i * 5) % 12) + (leaf[i] === 1 ? 20 : 0));   // leaf 1 scores 20 points too high
  const os = archs.map((_, i) => 40 + ((i * 11) % 12));
  const dir = join(tmp, 'budget');
  for (const m of ['oneshot', 'gm']) mkdirSync(join(dir, 'runs', m), { recursive: true });
  const leafEntry = (node: number, mask: string) => ({ node, mask, supernetVal: { accuracy: 50 }, history: [{ lr: 0.01, trainAccuracy: 60 }] });
  writeFileSync(join(dir, 'runs/gm/result.json'), JSON.stringify({
    tree: { nodes: [{ id: 0, parent: null, children: [1, 2] }, { id: 1, parent: 0, children: [] }, { id: 2, parent: 0, children: [] }] },
    splits: [{ node: 0, edge: 0, criterion: 'gm', children: [1, 2], groups: [['none', 'skip_connect'], ['nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']] }],
    leaves: [leafEntry(1, '11000/11111/11111/11111/11111/11111'), leafEntry(2, '00111/11111/11111/11111/11111/11111')],
  }));
  writeFileSync(join(dir, 'runs/oneshot/result.json'), JSON.stringify({
    tree: { nodes: [{ id: 0, parent: null, children: [] }] }, splits: [], leaves: [leafEntry(0, '11111/11111/11111/11111/11111/11111')],
  }));
  const csv = (s: number[], l: (i: number) => number) => `arch_str,leaf,val_accuracy,val_loss\n${archs.map((a, i) => `${a},${l(i)},${s[i]},1`).join('\n')}\n`;
  writeFileSync(join(dir, 'rank-gm.csv'), csv(gm, (i) => leaf[i]));
  writeFileSync(join(dir, 'rank-oneshot.csv'), csv(os, () => 0));
  const truthFile = join(tmp, 'truth.csv');
  writeFileSync(truthFile, `arch_str,acc\n${archs.map((a, i) => `${a},${truth[i]}`).join('\n')}\n`);

  const r = spawnSync(process.execPath, [join(ROOT, 'experiments/leaf-diagnostics.mjs'), dir, truthFile, 'acc'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith('| GM | 2 | 12 |'));
  assert.ok(row, r.stdout);
  const cells = row!.split('|').slice(1, -1).map((s) => s.trim());
  const num = (s: string) => Number(s.split(' ')[0]);
  const close = (got: string, want: number, what: string) => assert.ok(Math.abs(num(got) - want) < 5e-4, `${what}: ${got} vs ${want.toFixed(3)}`);
  const same = (i: number, j: number) => leaf[i] === leaf[j];
  close(cells[3], tauB(gm, truth), 'τ all');
  close(cells[4], pairTau(gm, truth, same), 'inside');
  close(cells[5], pairTau(os, truth, same), 'one-shot inside');
  close(cells[6], pairTau(gm, truth, (i, j) => !same(i, j)), 'across');
  close(cells[7], pairTau(os, truth, (i, j) => !same(i, j)), 'one-shot across');
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const of = (xs: number[], l: number) => xs.filter((_, i) => leaf[i] === l);
  const shifted = gm.map((s, i) => s - mean(of(gm, leaf[i])) + mean(of(truth, leaf[i])));
  close(cells[8], tauB(shifted, truth), 'shifted to the true mean');
  assert.ok(Math.abs(tauB(shifted, truth) - tauB(gm, truth)) > 0.01, 'the fixture must make calibration matter');
  // the split row: each child's cell count and true mean
  const split = r.stdout.split('\n').find((l) => l.startsWith('| 0 | 0 | gm |'))!;
  for (const l of [1, 2]) assert.ok(split.includes(`→ ${of(truth, l).length}, ${mean(of(truth, l)).toFixed(1)}`), `${split} (leaf ${l})`);
  // per-leaf rows: τ inside each leaf
  for (const l of [1, 2]) {
    const lr = r.stdout.split('\n').find((x) => x.startsWith(`| ${l} | `) && x.includes('/11111/'))!;
    close(lr.split('|')[4].trim(), tauB(of(gm, l), of(truth, l)), `leaf ${l} τ`);
  }
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
