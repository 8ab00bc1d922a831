// experiments/quality.sh --tiny end to end (issue [quality] item 4): four searches that each retrain
// their pick, the parameter-count pick and a reference sample retrained with `train --like`, then
// quality.json / quality.md. The figures are checked against the files they come from (percentiles
// recomputed here from the reference cells' own result.json), and a rerun reuses every finished step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, readdirSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-quality-'));
const out = join(tmp, 'q');
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const run = () => spawnSync('bash', [join(ROOT, 'experiments/quality.sh'), '--tiny', '--device', 'cpu', '--out', out],
  { env, encoding: 'utf8', timeout: 300_000, cwd: ROOT });
const json = (p: string) => JSON.parse(readFileSync(join(out, p), 'utf8'));

interface Pick { seed: number; genotype: string; testAccuracy: number; percentile: number; parameters: number }
interface Method { method: string; picks: Pick[]; meanAccuracy: number; meanPercentile: number }

test('quality.sh --tiny: every method, the parameter-count pick and the reference sample, with percentiles', () => {
  const r = run();
  assert.is(r.status, 0, r.stderr + r.stdout);
  const q = json('quality.json');
  assert.equal(q.seeds, [0]);
  assert.equal(q.methods.map((m: Method) => m.method), ['gm', 'oneshot', 'fewshot', 'random', 'params']);
  // the searches' own retrained picks
  for (const m of q.methods.slice(0, 4) as Method[]) {
    const res = json(`runs/${m.method}-s0/result.json`);
    assert.is(res.method, m.method);
    assert.is(m.picks[0].genotype, res.final.genotype);
    assert.is(m.picks[0].testAccuracy, res.final.retrain.testAccuracy);
  }
  assert.is(json('runs/fewshot-s0/result.json').leaves.length, 5);
  // the largest NB201 cell is the one with nor_conv_3x3 on every edge
  const params = q.methods[4] as Method;
  assert.is(params.picks[0].genotype, '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|');
  // the reference: 4 distinct cells, each retrained with the GM run's protocol
  const refDirs = readdirSync(join(out, 'reference')).filter((d) => statSync(join(out, 'reference', d)).isDirectory());
  assert.is(refDirs.length, 4);
  const refs = refDirs.map((d) => json(`reference/${d}/result.json`));
  assert.is(new Set(refs.map((x) => x.genotype)).size, 4);
  const protocol = json('runs/gm-s0/result.json').final.retrain.protocol;
  for (const x of refs) {
    assert.equal(x.retrain.protocol.hyper, protocol.hyper);
    assert.equal(x.retrain.protocol.imageShape, protocol.imageShape);
    assert.is(x.retrain.protocol.seed, protocol.seed);
  }
  // percentiles recomputed from the reference files (ties count half)
  const acc = refs.map((x) => x.retrain.testAccuracy as number);
  for (const m of q.methods as Method[]) {
    for (const p of m.picks) {
      const below = acc.filter((a) => a < p.testAccuracy).length + 0.5 * acc.filter((a) => a === p.testAccuracy).length;
      assert.ok(Math.abs(p.percentile - (100 * below) / acc.length) < 1e-9, `${m.method}: ${p.percentile}`);
    }
    assert.ok(Math.abs(m.meanAccuracy - m.picks[0].testAccuracy) < 1e-9);
  }
  assert.is(q.reference.size, 4);
  assert.ok(Math.abs(q.reference.max - Math.max(...acc)) < 1e-9);
  // leaf selectors: every leaf of the split methods retrained with its own search's protocol; the
  // default selector's leaf is the search's own pick, so its retraining must reproduce final.retrain
  // (same protocol and seed, CPU backend: bit-exact) — checks `train --like` against the search itself
  assert.equal(q.selectors.map((s: { method: string }) => s.method), ['gm', 'fewshot', 'random']);
  for (const sel of q.selectors as { method: string; seeds: { leaves: { node: number; testAccuracy: number; val: number }[]; byVal: { node: number; testAccuracy: number } }[] }[]) {
    const res = json(`runs/${sel.method}-s0/result.json`);
    const row = sel.seeds[0];
    assert.is(row.leaves.length, res.leaves.length, sel.method);
    for (const l of row.leaves) assert.is(l.testAccuracy, json(`leaves/${sel.method}-s0/n${l.node}/result.json`).retrain.testAccuracy);
    const chosen = res.leaves.find((l: { genotype: string }) => l.genotype === res.final.genotype);
    assert.ok(chosen, `${sel.method}: the pick is one of the leaves`);
    assert.is(row.byVal.node, chosen.node, `${sel.method}: the val selector names the search's pick`);
    assert.is(row.byVal.testAccuracy, res.final.retrain.testAccuracy, `${sel.method}: train --like reproduces final.retrain`);
  }
  const md = readFileSync(join(out, 'quality.md'), 'utf8');
  assert.match(md, /^\| GM \+ DARTS \| [0-9.]+ \([0-9]+\) \| [0-9.]+ \([0-9]+\) \|/m);
  for (const name of ['GM + DARTS', 'one-shot DARTS', 'few-shot (5 leaves) + DARTS', 'random split + DARTS', 'parameter-count pick']) {
    assert.match(md, new RegExp(`^\\| ${name.replace(/[()+]/g, '\\$&')}`, 'm'));
  }
});

test('a rerun reuses every finished search and retraining', () => {
  const stamp = (p: string) => statSync(join(out, p)).mtimeMs;
  const files = ['runs/gm-s0/result.json', 'runs/random-s0/result.json', 'params/s0/result.json', 'leaves/gm-s0/n3/result.json',
    ...readdirSync(join(out, 'reference')).filter((d) => existsSync(join(out, 'reference', d, 'result.json'))).map((d) => `reference/${d}/result.json`)];
  const before = files.map(stamp);
  const r = run();
  assert.is(r.status, 0, r.stderr);
  assert.equal(files.map(stamp), before);
  assert.match(r.stderr, /gm seed 0: done/);
  assert.not.match(r.stderr, /reference \d+\/4/);
});

test('retrainings of an older protocol version are done again, a search\'s pick into picks/', () => {
  const gm = json('runs/gm-s0/result.json');
  const refDir = readdirSync(join(out, 'reference')).find((d) => existsSync(join(out, 'reference', d, 'result.json')))!;
  const ref = json(`reference/${refDir}/result.json`);
  // as a build before protocol version 2 wrote them: no version field
  delete gm.final.retrain.protocol.version;
  delete ref.retrain.protocol.version;
  writeFileSync(join(out, 'runs/gm-s0/result.json'), JSON.stringify(gm));
  writeFileSync(join(out, `reference/${refDir}/result.json`), JSON.stringify(ref));
  const r = run();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /gm seed 0: pick retrained with protocol 2/);
  assert.match(r.stderr, /retraining again \(older protocol\)/);
  assert.not.match(r.stderr, /oneshot seed 0: pick retrained/);
  const pick = json('picks/gm-s0/result.json');
  assert.is(pick.genotype, gm.final.genotype);
  assert.is(pick.retrain.protocol.version, 2);
  // same protocol, seed and backend as the search's own retraining: the same figure, now from picks/
  assert.is(pick.retrain.testAccuracy, gm.final.retrain.testAccuracy);
  assert.is(json('quality.json').methods[0].picks[0].testAccuracy, pick.retrain.testAccuracy);
  assert.is(json(`reference/${refDir}/result.json`).retrain.protocol.version, 2);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
