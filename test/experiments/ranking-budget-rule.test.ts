// experiments/ranking.sh --budget-rule paper (issue [quality] item 5): one-shot trains B epochs, GM the
// reference's RSPS proportions of it (splits at 20/90·B and 40/90·B, leaves to B) and few-shot 5 leaves
// of B epochs each. Checked on what the searches did (each leaf's epochs in its history), against the
// schedule arithmetic written out here, and on the report, which must show the rule and each method's
// own supernet-epochs (GM and few-shot spend more than B); a finished search of the other rule is not
// reused, and an unknown rule is refused before any work.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tinyRanking } from '../helpers/tiny-ranking.js';

const tiny = tinyRanking('gmnas-rank-rule-');
const tmp = tiny.tmp;
const ranking = tiny.run;

interface Leaf { node: number; history: { epoch: number }[] }

test('ranking.sh --budget-rule paper: the reference\'s proportions of one-shot\'s B epochs, reported with each method\'s supernet-epochs', () => {
  const out = join(tmp, 'paper');
  let r = ranking(out, ['--budget-rule', 'paper']);
  assert.is(r.status, 0, r.stderr + r.stdout);
  const result = (m: string) => JSON.parse(readFileSync(join(out, 'runs', m, 'result.json'), 'utf8'));
  const B = 10;
  // GM: the reference's RSPS splits at epochs 20 and 40 of 90, scaled to B and rounded: 2.2 → 2, 4.4 → 4
  const s1 = Math.round(20 * B / 90), s2 = Math.round(40 * B / 90);
  assert.equal([s1, s2], [2, 4]);
  const gm = result('gm');
  assert.equal(gm.config.splitEpochs, [s1, s2]);
  assert.is(gm.config.totalEpochs, B);
  assert.is(gm.config.restart, true);
  assert.is(gm.leaves.length, 4);
  // each restarted leaf trains from the last split to B (6 of one-shot's 10 epochs; 50 of 90 in the paper)
  for (const l of gm.leaves as Leaf[]) assert.equal(l.history.map((h) => h.epoch), Array.from({ length: B - s2 }, (_, i) => s2 + i), `GM leaf ${l.node}`);
  // few-shot: 5 leaves from epoch 0, each the one-shot's whole B epochs
  const fs = result('fewshot');
  assert.equal(fs.config.splitEpochs, [0]);
  assert.is(fs.leaves.length, 5);
  for (const l of fs.leaves as Leaf[]) assert.is(l.history.length, B, `few-shot leaf ${l.node}`);
  const os = result('oneshot');
  assert.is(os.config.totalEpochs, B);
  // the report: the rule, and each method's own supernet-epochs (root + 2 children + 4 leaves for GM)
  const gmEpochs = s1 + 2 * (s2 - s1) + 4 * (B - s2);
  assert.is(gmEpochs, 30);
  const j = JSON.parse(readFileSync(join(out, 'ranking.json'), 'utf8'));
  assert.is(j.budgetRule, 'paper');
  assert.equal(j.methods.map((m: { method: string; budgetEpochs: number }) => [m.method, m.budgetEpochs]),
    [['oneshot', B], ['fewshot', 5 * B], ['gm', gmEpochs]]);
  const md = readFileSync(join(out, 'ranking.md'), 'utf8');
  assert.match(md, /budget rule paper: one-shot trains B epochs, few-shot and GM the reference's proportions/);
  assert.match(md, /^\| one-shot \| 1 \| 10 \| 10 epochs \|/m);
  assert.match(md, /^\| few-shot \| 5 \| 50 \| splits 0, 10 epochs \|/m);
  assert.match(md, /^\| GM \| 4 \| 30 \| splits 2,4, 10 epochs \|/m);
  // the equal rule's few-shot (B/5 epochs) must not reuse the paper rule's finished few-shot search
  r = ranking(out, []);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /runs\/fewshot was searched with another schedule \(splits,epochs '0 10', this run needs '0 2'\)/);
  r = ranking(join(tmp, 'bad'), ['--budget-rule', 'half']);
  assert.is(r.status, 2);
  assert.match(r.stderr, /--budget-rule half: expected equal or paper/);
});

test.after(() => tiny.remove());
test.run();
