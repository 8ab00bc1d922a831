// experiments/ranking.sh --gm-inherit (issue [quality] item 5): GM's search runs with --no-restart, so
// its leaves continue their parent: checked on what the leaves did, not only on the flag — each leaf's
// first epoch runs at the parent's global cosine LR (the spec's formula), where restarted leaves start
// a fresh schedule at lr0; the splits are the same; one-shot and few-shot are unchanged; the report says
// so; and a rerun without the flag refuses to reuse the inherited GM search.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyRanking } from '../helpers/tiny-ranking.js';

const tiny = tinyRanking('gmnas-rank-inherit-');
const tmp = tiny.tmp;
const ranking = tiny.run;

interface Leaf { node: number; history: { epoch: number; lr: number }[] }

test('ranking.sh --gm-inherit: GM leaves continue their parents\' schedule; splits and other methods unchanged; no silent reuse', () => {
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

test.after(() => tiny.remove());
test.run();
