// `node run.js rank` on tiny searches run in-process on the CPU backend: one row per valid genotype,
// scored by the leaf whose mask admits it; malformed and out-of-space lines reported by line number;
// a leaf's own genotype scores exactly as the search scored it; CSV input, BN recalibration, clear
// errors for incomplete run folders; and experiments/ranking.sh --tiny end to end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch, type SearchResult } from '../../src/nas/search.js';
import { FileStore } from '../../src/nas/file-store.js';
import { loadSearchData } from '../../src/nas/search-data.js';
import { rankGenotypes, parseGenotypeList, loadRun } from '../../src/nas/rank.js';
import { parseMask, maskAdmits } from '../../src/spaces/nb201/ops.js';
import { parseGenotype, formatGenotype, allGenotypes } from '../../src/spaces/nb201/genotype.js';
import { parseCsv } from '../../src/io/csv.js';
import { networkParamCount } from '../../src/spaces/nb201/params.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RUN_JS = join(ROOT, 'run.js');
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-rank-'));
const be = new CpuBackend();

function run(args: string[], cmd = process.execPath, timeout = 120_000): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, cmd === process.execPath ? [RUN_JS, ...args] : args, { env, encoding: 'utf8', timeout, cwd: ROOT });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function tinyConfig(over: Partial<SearchConfig>): SearchConfig {
  const method = over.method ?? 'gm';
  // pathTuneSteps 0: rank scores the paths as the leaf checkpoints hold them, which is what the search's
  // own `val` is only without the derived-path tuning (with it, rank reproduces `valUntuned`)
  return { ...defaultSearchConfig({ method, preset: 'tiny', base: over.base ?? 'rsps' }), seed: 5, syntheticSize: 128, pathTuneSteps: 0, ...over };
}

async function search(name: string, c: SearchConfig): Promise<{ dir: string; result: SearchResult }> {
  const dir = join(tmp, name);
  const result = await runSearch({ config: c, backend: be, data: loadSearchData(c), store: new FileStore(dir), deviceName: 'cpu' });
  return { dir, result };
}

type Row = { arch: string; leaf: number; acc: number; loss: number };
function readRows(file: string): Row[] {
  const t = parseCsv(readFileSync(file, 'utf8'), file);
  assert.equal(t.header, ['arch_str', 'leaf', 'val_accuracy', 'val_loss']);
  return t.records.map((r) => ({ arch: r.fields[0]!, leaf: Number(r.fields[1]), acc: Number(r.fields[2]), loss: Number(r.fields[3]) }));
}

function checkRows(rows: Row[], result: SearchResult): void {
  const nodes = new Map(result.tree.nodes.map((n) => [n.id, n]));
  for (const r of rows) {
    const n = nodes.get(r.leaf);
    assert.ok(n, `row ${r.arch}: leaf ${r.leaf} is not a node of the tree`);
    assert.is(n!.children.length, 0, `row ${r.arch}: node ${r.leaf} is not a leaf`);
    assert.ok(maskAdmits(parseMask(n!.mask), parseGenotype(r.arch)), `leaf ${r.leaf} (${n!.mask}) does not admit ${r.arch}`);
    assert.ok(r.acc >= 0 && r.acc <= 100, `accuracy ${r.acc}`);
    assert.ok(Number.isFinite(r.loss) && r.loss > 0, `loss ${r.loss}`);
  }
}

let gm: { dir: string; result: SearchResult };

test('rank: one row per valid genotype, each from the leaf that admits it; bad lines reported by number', async () => {
  gm = await search('gm', tinyConfig({ method: 'gm' }));
  const leaves = gm.result.tree.nodes.filter((n) => n.children.length === 0);
  assert.is(leaves.length, 4);
  // per leaf: its own derived genotype and one more genotype it admits
  const own = gm.result.leaves.map((l) => l.genotype);
  const more = leaves.map((n) => formatGenotype(allGenotypes().find((g) => maskAdmits(parseMask(n.mask), g) && !own.includes(formatGenotype(g)))!));
  const malformed = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|';   // two nodes
  const badOp = '|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|';  // an op outside the space
  const lines = ['# genotypes to rank', ...own, '', more[0]!, more[1]!, malformed, more[2]!, badOp, more[3]!, own[0]!];
  const lineOf = (s: string) => lines.indexOf(s) + 1;
  const archs = join(tmp, 'archs.txt');
  writeFileSync(archs, `${lines.join('\n')}\n`);
  const out = join(tmp, 'gm-rank.csv');
  const r = run(['rank', '--from', gm.dir, '--archs', archs, '--out', out, '--device', 'cpu']);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`archs\\.txt:${lineOf(malformed)}: skipped: invalid NB201 genotype`));
  assert.match(r.err, new RegExp(`archs\\.txt:${lineOf(badOp)}: skipped: .*unknown op 'conv_7x7'`));
  assert.match(r.err, new RegExp(`archs\\.txt:${lines.length}: duplicate of line ${lineOf(own[0]!)}`));
  const rows = readRows(out);
  assert.equal(rows.map((x) => x.arch), [...own, ...more], 'one row per distinct valid genotype, in file order');
  checkRows(rows, gm.result);
  assert.is(new Set(rows.map((x) => x.leaf)).size, 4, 'every leaf scored some genotype');
  // a leaf's own genotype scores exactly as the search scored it (same batches, same BN mode)
  for (const l of gm.result.leaves) {
    const row = rows.find((x) => x.arch === l.genotype)!;
    assert.is(row.leaf, l.node);
    assert.ok(Math.abs(row.acc - l.val.accuracy) < 1e-3, `${l.genotype}: ${row.acc} vs ${l.val.accuracy}`);
    assert.ok(Math.abs(row.loss - l.val.loss) < 1e-5, `${l.genotype}: ${row.loss} vs ${l.val.loss}`);
  }
});

test('rank: a CSV with arch_str, a one-shot run (every row from the root), BN recalibration', async () => {
  const one = await search('oneshot', tinyConfig({ method: 'oneshot', base: 'darts' }));
  const gs = allGenotypes().filter((_, i) => i % 2311 === 7).map((g) => formatGenotype(g));
  const csv = ['index,arch_str,cifar10_valid', ...gs.map((g, i) => `${i},${g},${50 + i}`), '99,only-two-fields'];
  const file = join(tmp, 'archs.csv');
  writeFileSync(file, `${csv.join('\n')}\n`);
  const out = join(tmp, 'oneshot-rank.csv');
  const r = run(['rank', '--from', one.dir, '--archs', file, '--out', out, '--device', 'cpu', '--bn-recalibrate', '2', '--val-batches', '1', '--quiet']);
  assert.is(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`archs\\.csv:${csv.length}: skipped: 2 fields, but the header has 3 columns`));
  const rows = readRows(out);
  assert.equal(rows.map((x) => x.arch), gs);
  assert.ok(rows.every((x) => x.leaf === 0));
  checkRows(rows, one.result);
  // in-process: recalibration is deterministic, and grouping by leaf gives input order back
  const loaded = loadRun(one.dir);
  const list = parseGenotypeList(readFileSync(file, 'utf8'), file);
  assert.is(list.entries.length, gs.length);
  assert.equal(list.errors.map((e) => e.line), [csv.length]);
  const o = { backend: be, bnRecalibrate: 2, valBatches: 1 };
  const a = await rankGenotypes(loaded, list.entries.map((e) => e.genotype), o);
  const b = await rankGenotypes(one.dir, list.entries.map((e) => e.genotype), o);
  assert.is(a.bn, 'recalibrated');
  assert.equal(a.rows.map((x) => [x.arch, x.accuracy, x.loss]), b.rows.map((x) => [x.arch, x.accuracy, x.loss]));
  assert.equal(a.rows.map((x) => x.index), gs.map((_, i) => i));
  // without recalibration DARTS scores in BN training mode, as the search did
  const plain = await rankGenotypes(loaded, [parseGenotype(one.result.leaves[0]!.genotype)], { backend: be });
  assert.is(plain.bn, 'train');
  assert.ok(Math.abs(plain.rows[0]!.accuracy - one.result.leaves[0]!.val.accuracy) < 1e-9);
  assert.ok(Math.abs(plain.rows[0]!.loss - one.result.leaves[0]!.val.loss) < 1e-9);
});

test('rank: clear errors for an unfinished run, a folder without checkpoints, and bad flags', () => {
  const archs = join(tmp, 'archs.txt');
  const unfinished = join(tmp, 'unfinished');
  mkdirSync(unfinished, { recursive: true });
  writeFileSync(join(unfinished, 'state.json'), '{}');
  let r = run(['rank', '--from', unfinished, '--archs', archs, '--device', 'cpu']);
  assert.is(r.code, 1);
  assert.match(r.err, /has not finished .*--resume/);
  const bare = join(tmp, 'bare');
  mkdirSync(bare, { recursive: true });
  copyFileSync(join(gm.dir, 'result.json'), join(bare, 'result.json'));
  r = run(['rank', '--from', bare, '--archs', archs, '--device', 'cpu']);
  assert.is(r.code, 1);
  assert.match(r.err, /no checkpoints\/ folder/);
  mkdirSync(join(bare, 'checkpoints'));
  r = run(['rank', '--from', bare, '--archs', archs, '--device', 'cpu']);
  assert.is(r.code, 1);
  assert.match(r.err, /missing leaf checkpoints? .*node-\d\.safetensors/);
  r = run(['rank', '--from', join(tmp, 'nowhere'), '--archs', archs]);
  assert.is(r.code, 1);
  assert.match(r.err, /no such folder/);
  r = run(['rank', '--from', gm.dir]);
  assert.is(r.code, 2);
  assert.match(r.err, /--archs is required/);
  r = run(['rank', '--from', gm.dir, '--archs', archs, '--bn-recalibrate', '-1']);
  assert.is(r.code, 2);
  const empty = join(tmp, 'empty.txt');
  writeFileSync(empty, 'nonsense\n');
  r = run(['rank', '--from', gm.dir, '--archs', empty, '--device', 'cpu']);
  assert.is(r.code, 1);
  assert.match(r.err, /empty\.txt:1: skipped/);
  assert.match(r.err, /no valid NB201 genotype/);
});

/** Kendall τ-b by brute force over all pairs (independent of src/stats/rank.ts) */
function kendallTauB(a: number[], b: number[]): number {
  let con = 0, dis = 0, tieA = 0, tieB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i] - a[j]), db = Math.sign(b[i] - b[j]);
      if (da === 0 && db === 0) continue;
      if (da === 0) tieA++;
      else if (db === 0) tieB++;
      else if (da === db) con++;
      else dis++;
    }
  }
  return (con - dis) / Math.sqrt((con + dis + tieA) * (con + dis + tieB));
}

test('experiments/ranking.sh --tiny --curve: three searches per budget, ranking.md/json per budget, the curve and its floor', () => {
  assert.ok(existsSync(join(ROOT, 'src/cli/search.ts')));
  const gs = allGenotypes().filter((_, i) => i % 3001 === 11).map((g) => formatGenotype(g));
  const archs = join(tmp, 'exp-archs.txt');
  writeFileSync(archs, `${gs.join('\n')}\n`);
  const truth = join(tmp, 'exp-truth.csv');
  writeFileSync(truth, `arch_str,score\n${gs.map((g, i) => `${g},${(i * 37) % 11}`).join('\n')}\n`);
  const top = join(tmp, 'exp');
  const r = run(['experiments/ranking.sh', '--tiny', '--device', 'cpu', '--archs', archs, '--truth', truth, '--column', 'score',
    '--curve', '10,15', '--out', top], 'bash', 600_000);
  assert.is(r.code, 0, r.err + r.out);
  const out = join(top, 'budget-10');
  const md = readFileSync(join(out, 'ranking.md'), 'utf8');
  for (const m of ['one-shot', 'few-shot', 'GM']) assert.match(md, new RegExp(`^\\| ${m} \\|`, 'm'));
  const j = JSON.parse(readFileSync(join(out, 'ranking.json'), 'utf8'));
  assert.equal(j.methods.map((m: { method: string }) => m.method), ['oneshot', 'fewshot', 'gm']);
  assert.equal(j.methods.map((m: { supernets: number }) => m.supernets), [1, 5, 4]);
  assert.ok(j.methods.every((m: { budgetEpochs: number }) => m.budgetEpochs === 10), 'the same budget for every method');
  assert.ok(j.methods.every((m: { shared: number; ranked: number }) => m.shared === gs.length && m.ranked === gs.length));
  for (const m of j.methods) {
    const all = m.correlation.find((c: { top: number }) => c.top === 1);
    assert.ok(all.spearman === null || (all.spearman >= -1 && all.spearman <= 1));
    assert.ok(m.wallSeconds.total > 0);
  }
  // the curve: each point is its budget's own figure; the floor is τ of parameter count vs truth
  const curve = JSON.parse(readFileSync(join(top, 'ranking-curve.json'), 'utf8'));
  assert.equal(curve.budgets, [10, 15]);
  for (const b of [10, 15]) {
    const jb = JSON.parse(readFileSync(join(top, `budget-${b}`, 'ranking.json'), 'utf8'));
    assert.ok(jb.methods.every((m: { budgetEpochs: number }) => m.budgetEpochs === b), `budget ${b}`);
    for (const m of curve.methods) {
      const p = m.points.find((x: { budget: number }) => x.budget === b);
      const own = jb.methods.find((x: { method: string }) => x.method === m.method).correlation.find((c: { top: number }) => c.top === 1);
      assert.is(p.kendall, own.kendall, `${m.method} at ${b}`);
    }
  }
  const size = { C: 4, N: 1, inputChannels: j.dataset.imageShape[0], numClasses: j.dataset.classes };
  const params = gs.map((g) => networkParamCount(parseGenotype(g), size));
  const scores = gs.map((_, i) => (i * 37) % 11);
  assert.ok(Math.abs(curve.parameterFloor.kendall - kendallTauB(params, scores)) < 1e-9, `floor ${curve.parameterFloor.kendall}`);
  const svg = readFileSync(join(top, 'ranking-curve.svg'), 'utf8');
  assert.is((svg.match(/<polyline /g) ?? []).length, 3);
  const cmd = readFileSync(join(top, 'ranking.md'), 'utf8');
  assert.match(cmd, /^\| 15 \| /m);
  assert.match(readFileSync(join(top, 'ranking.html'), 'utf8'), /<svg /);
  // bad budgets are refused before any work
  const bad = run(['experiments/ranking.sh', '--tiny', '--curve', '20,10', '--out', join(tmp, 'bad')], 'bash', 60_000);
  assert.is(bad.code, 2);
  assert.match(bad.err, /--curve 20,10: expected ascending multiples of 5/);
});

test.after(() => {
  be.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
