// experiments/ranking.sh --gm-inherit (issue [quality] item 5): GM's search runs with --no-restart, so
// its leaves continue their parent: checked on what the leaves did, not only on the flag — each leaf's
// first epoch runs at the parent's global cosine LR (the spec's formula), where restarted leaves start
// a fresh schedule at lr0; the splits are the same; one-shot and few-shot are unchanged; the report says
// so; and a rerun without the flag refuses to reuse the inherited GM search.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-rank-inherit-'));
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const archs = [
  '|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|',
  '|none~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|',
  '|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|',
];
const ranking = (out: string, extra: string[]) => spawnSync('bash', [join(ROOT, 'experiments/ranking.sh'), '--tiny', '--device', 'cpu', '--budget', '10',
  '--archs', join(tmp, 'archs.txt'), '--truth', join(tmp, 'truth.csv'), '--column', 'score', '--out', out, ...extra],
{ env, encoding: 'utf8', timeout: 300_000, cwd: ROOT });

interface Leaf { node: number; history: { epoch: number; lr: number }[] }

test('ranking.sh --gm-inherit: GM leaves continue their parents\' schedule; splits and other methods unchanged; no silent reuse', () => {
  writeFileSync(join(tmp, 'archs.txt'), `${archs.join('\n')}\n`);
  writeFileSync(join(tmp, 'truth.csv'), `arch_str,score\n${archs.map((a, i) => `${a},${i}`).join('\n')}\n`);
  const inh = join(tmp, 'inherit'), fresh = join(tmp, 'restart');
  let r = ranking(inh, ['--gm-inherit']);
  assert.is(r.status, 0, r.stderr + r.stdout);
  r = ranking(fresh, []);
  assert.is(r.status, 0, r.stderr + r.stdout);
  const result = (dir: string, m: string) => JSON.parse(readFileSync(join(dir, 'runs', m, 'result.json'), 'utf8'));
  const gi = result(inh, 'gm'), gf = result(fresh, 'gm');
  assert.is(gi.config.restart, false);
  assert.is(gf.config.restart, true);
  for (const m of ['oneshot', 'fewshot']) assert.is(result(inh, m).config.restart, true, m);
  // the same seed and schedule: identical splits (restart only acts after the last one) ...
  assert.equal(gi.splits.map((s: { edge: number }) => s.edge), gf.splits.map((s: { edge: number }) => s.edge));
  // ... but with --gm-inherit a leaf continues its parent's LR schedule (and weights, test/search/
  // base-methods.test.ts), without it it starts a fresh one. The spec's cosine (lr0 0.025, eta_min 0.001,
  // T = the total epochs): lr_e = 0.001 + 0.024·(1 + cos(π·e/T))/2
  const cosine = (e: number, T: number) => 0.001 + 0.024 * (1 + Math.cos(Math.PI * e / T)) / 2;
  const last = gi.config.splitEpochs[gi.config.splitEpochs.length - 1], T = gi.config.totalEpochs;
  assert.ok(last > 0 && last < T);
  for (const l of gi.leaves as Leaf[]) {
    assert.is(l.history[0].epoch, last);
    assert.ok(Math.abs(l.history[0].lr - cosine(last, T)) < 1e-6, `inherited leaf ${l.node}: lr ${l.history[0].lr} vs ${cosine(last, T)}`);
  }
  for (const l of gf.leaves as Leaf[]) assert.ok(Math.abs(l.history[0].lr - cosine(0, T)) < 1e-6, `restarted leaf ${l.node}: lr ${l.history[0].lr}`);
  assert.match(readFileSync(join(inh, 'ranking.md'), 'utf8'), /^\| GM \| 4 \| 10 \| splits [0-9,]+, [0-9]+ epochs, leaves inherit \|/m);
  assert.not.match(readFileSync(join(fresh, 'ranking.md'), 'utf8'), /leaves inherit/);
  assert.is(JSON.parse(readFileSync(join(inh, 'ranking.json'), 'utf8')).methods[2].restart, false);
  // the inherited GM search is not reused by a run without the flag
  r = ranking(inh, []);
  assert.is(r.status, 2);
  assert.match(r.stderr, /runs\/gm was searched with --gm-inherit; use another --out/);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
