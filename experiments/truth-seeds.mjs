// The seed-averaged truth of experiments/retrain-seeds.sh: reads DIR/cells.txt and every
// DIR/s<S>/*/result.json (`train --like --seed S`), joins an earlier truth as one more seed, and writes
//   DIR/truth-seeds.csv    arch_str, parameters, test_accuracy_s<S>…, test_accuracy (mean over the seeds
//                          present), sd (sample sd over them; empty below 2), n
//   DIR/truth-s<S>.csv     one seed's truth (arch_str,test_accuracy)
//   DIR/truth-seeds.json / .md   per-cell sd, Kendall τ-b and Spearman between every two seed truths (the
//                          ceiling of a ranker scored against one seed), each seed truth and the parameter
//                          count against the mean truth
//
// `--figure training-stats` reads, instead of the protocol's test accuracy, the figure the same trained
// networks got with the BN statistics training left (retrain.trainingStatsTest: the version-1
// protocol's figure, kept beside version 2's), and writes the files above with `-training-stats`
// before the extension — both truths from the same trainings.
//
//   node experiments/truth-seeds.mjs --dir DIR --seeds "1 2" [--truth CSV --truth-seed 0 --column COL] [--figure training-stats]
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { kendallTau, spearman } = await import(join(ROOT, 'dist/src/stats/rank.js'));
const { parseCsv } = await import(join(ROOT, 'dist/src/io/csv.js'));
const { readScoreRows } = await import(join(ROOT, 'dist/src/io/score-rows.js'));
const { getSpace } = await import(join(ROOT, 'dist/src/spaces/registry.js'));
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const { values: a } = parseArgs({ options: { dir: { type: 'string' }, seeds: { type: 'string' }, truth: { type: 'string' }, 'truth-seed': { type: 'string' }, column: { type: 'string' }, figure: { type: 'string' } } });
const fail = (m) => { console.error(`truth-seeds.mjs: ${m}`); process.exit(2); };
if (!a.dir || !a.seeds) fail('usage: node experiments/truth-seeds.mjs --dir DIR --seeds "1 2" [--truth CSV --truth-seed S --column COL]');
const dir = resolve(a.dir);
const retrained = a.seeds.trim().split(/\s+/).map(Number);
if (retrained.some((s) => !Number.isInteger(s) || s < 0)) fail(`--seeds '${a.seeds}': expected non-negative integers`);
if (!existsSync(join(dir, 'cells.txt'))) fail(`${dir}/cells.txt is missing (written by experiments/retrain-seeds.sh)`);
const figure = a.figure ?? 'protocol';
if (figure !== 'protocol' && figure !== 'training-stats') fail(`--figure ${figure}: expected protocol or training-stats`);
const tag = figure === 'training-stats' ? '-training-stats' : '';
const cells = readFileSync(join(dir, 'cells.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '');

/** seed → genotype → test accuracy (%); the parameters come from the retrainings */
const bySeed = new Map();
const parameters = new Map();
const device = new Set();
if (a.truth !== undefined) {
  const s = Number(a['truth-seed']);
  if (a['truth-seed'] === undefined || !Number.isInteger(s) || s < 0) fail('--truth needs --truth-seed S (a non-negative integer)');
  if (retrained.includes(s)) fail(`--truth-seed ${s} is also a retrained seed`);
  const space = getSpace();
  const rows = readScoreRows(parseCsv(readFileSync(a.truth, 'utf8'), a.truth), a.column ?? 'test_accuracy',
    { columnFlag: '--column', canonical: (g) => space.formatGenotype(space.parseGenotype(g)) });
  for (const w of rows.warnings) console.error(`warning: ${w}`);
  bySeed.set(s, rows.scores);
}
for (const s of retrained) {
  const m = new Map();
  const d = join(dir, `s${s}`);
  for (const k of existsSync(d) ? readdirSync(d) : []) {
    const f = join(d, k, 'result.json');
    if (!existsSync(f)) continue;
    const r = JSON.parse(readFileSync(f, 'utf8'));
    if (r.seed !== s) fail(`${f}: retrained with seed ${r.seed}, not ${s}`);
    if (figure === 'training-stats' && !r.retrain.trainingStatsTest) fail(`${f}: no retrain.trainingStatsTest (retrained by a build before protocol version 2, or with --bn-batches 0)`);
    m.set(r.genotype, figure === 'training-stats' ? r.retrain.trainingStatsTest.accuracy : r.test.accuracy);
    parameters.set(r.genotype, r.retrain.parameters);
    device.add(r.device);
  }
  bySeed.set(s, m);
}
const seeds = [...bySeed.keys()].sort((x, y) => x - y);

const mean = (v) => v.reduce((p, x) => p + x, 0) / v.length;
const sd = (v) => (v.length < 2 ? NaN : Math.sqrt(v.reduce((p, x) => p + (x - mean(v)) ** 2, 0) / (v.length - 1)));
const rows = cells.map((g) => {
  const acc = seeds.map((s) => bySeed.get(s).get(g));
  const present = acc.filter((x) => x !== undefined);
  return { genotype: g, parameters: parameters.get(g), acc, n: present.length, mean: present.length ? mean(present) : NaN, sd: sd(present) };
});
const fmt = (v, d = 4) => (v === undefined || Number.isNaN(v) ? '' : String(+v.toFixed(d)));
const csv = [['arch_str', 'parameters', ...seeds.map((s) => `test_accuracy_s${s}`), 'test_accuracy', 'sd', 'n'].join(',')];
for (const r of rows) if (r.n > 0) csv.push([r.genotype, r.parameters ?? '', ...r.acc.map((x) => fmt(x)), fmt(r.mean), fmt(r.sd), r.n].join(','));
writeFileAtomic(join(dir, `truth-seeds${tag}.csv`), `${csv.join('\n')}\n`);
for (const [i, s] of seeds.entries()) {
  const lines = rows.filter((r) => r.acc[i] !== undefined).map((r) => `${r.genotype},${r.acc[i]}`);
  writeFileAtomic(join(dir, `truth-s${s}${tag}.csv`), `arch_str,test_accuracy\n${lines.join('\n')}\n`);
}

// statistics over the cells every seed has (a partial run: the complete ones only)
const complete = rows.filter((r) => r.n === seeds.length);
const col = (i) => complete.map((r) => r.acc[i]);
const cellSd = complete.map((r) => r.sd).filter((v) => !Number.isNaN(v));
const pairs = [];
for (let i = 0; i < seeds.length && complete.length > 1; i++) {
  for (let j = i + 1; j < seeds.length; j++) {
    pairs.push({ seeds: [seeds[i], seeds[j]], kendall: kendallTau(col(i), col(j)), spearman: spearman(col(i), col(j)),
      meanDifference: mean(complete.map((r) => r.acc[j] - r.acc[i])) });
  }
}
const meanTruth = complete.map((r) => r.mean);
// how much of the truth is the cells and how much the seed: noise variance = the pooled per-cell variance,
// signal variance = the variance of the k-seed means less noise/k; a perfect ranker's expected Kendall τ
// against one seed's truth (or the k-seed mean) is (2/π)·asin(√reliability) for normal noise (Greiner's relation)
let reliability = null;
if (cellSd.length > 1 && complete.length > 2) {
  const k = seeds.length, noise = mean(cellSd.map((v) => v * v)), signal = sd(meanTruth) ** 2 - noise / k;
  const ceiling = (rel) => (rel > 0 ? (2 / Math.PI) * Math.asin(Math.sqrt(Math.min(1, rel))) : NaN);
  const one = signal / (signal + noise), all = signal / (signal + noise / k);
  reliability = { noiseVariance: noise, signalVariance: signal, oneSeed: one, meanOfSeeds: all,
    perfectRankerTauOneSeed: ceiling(one), perfectRankerTauMean: ceiling(all), seedPairTauExpected: one > 0 ? (2 / Math.PI) * Math.asin(one) : NaN };
}
const withParams = complete.every((r) => r.parameters !== undefined);
const summary = {
  dir, figure, seeds, retrainedSeeds: retrained, joinedTruth: a.truth ? { file: resolve(a.truth), seed: Number(a['truth-seed']) } : null,
  devices: [...device], cells: cells.length, complete: complete.length,
  perSeed: seeds.map((s, i) => ({ seed: s, cells: rows.filter((r) => r.acc[i] !== undefined).length, mean: complete.length ? mean(col(i)) : NaN, sd: sd(col(i)),
    kendallVsMean: complete.length > 1 ? kendallTau(col(i), meanTruth) : NaN })),
  cellSd: cellSd.length ? { mean: mean(cellSd), rms: Math.sqrt(mean(cellSd.map((v) => v * v))), median: [...cellSd].sort((x, y) => x - y)[Math.floor((cellSd.length - 1) / 2)], max: Math.max(...cellSd) } : null,
  meanTruth: complete.length ? { mean: mean(meanTruth), sd: sd(meanTruth), min: Math.min(...meanTruth), max: Math.max(...meanTruth) } : null,
  pairs,
  reliability,
  parameters: withParams && complete.length > 1 ? {
    kendallVsMean: kendallTau(complete.map((r) => r.parameters), meanTruth), spearmanVsMean: spearman(complete.map((r) => r.parameters), meanTruth),
    kendallVsSeed: seeds.map((s, i) => ({ seed: s, kendall: kendallTau(complete.map((r) => r.parameters), col(i)) })),
  } : null,
};
writeFileAtomic(join(dir, `truth-seeds${tag}.json`), `${JSON.stringify(summary, null, 1)}\n`);

const f3 = (v) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : v.toFixed(3));
const f2 = (v) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : v.toFixed(2));
const md = [
  `# Truth over retraining seeds ${seeds.join(', ')}${tag ? ' — with the BN statistics training left (retrain.trainingStatsTest)' : ''}`, '',
  `${cells.length} cells; ${complete.length} with every seed (the statistics below use those).` +
  (summary.joinedTruth ? ` Seed ${summary.joinedTruth.seed} is the joined truth ${summary.joinedTruth.file}.` : '') +
  ` Retrained on: ${summary.devices.join('; ') || '—'}.`, '',
  `Per-cell sd over the seeds (percentage points): mean ${f2(summary.cellSd?.mean)}, root-mean-square ${f2(summary.cellSd?.rms)}, ` +
  `median ${f2(summary.cellSd?.median)}, max ${f2(summary.cellSd?.max)}; the mean truth spreads ${f2(summary.meanTruth?.min)}–${f2(summary.meanTruth?.max)} % ` +
  `(sd ${f2(summary.meanTruth?.sd)} across cells).`, '',
  reliability
    ? `Signal (cells) variance ${f2(reliability.signalVariance)}, noise (seed) variance ${f2(reliability.noiseVariance)} (points²): a single seed's ` +
      `truth is ${(100 * reliability.oneSeed).toFixed(0)} % signal, the mean of ${seeds.length} seeds ${(100 * reliability.meanOfSeeds).toFixed(0)} %; a perfect ranker ` +
      `would reach Kendall τ ≈ ${f3(reliability.perfectRankerTauOneSeed)} against one seed and ≈ ${f3(reliability.perfectRankerTauMean)} against the mean ` +
      `(normal noise: τ = (2/π)·asin(√reliability); two seed truths then agree at τ ≈ ${f3(reliability.seedPairTauExpected)}).`
    : 'Reliability: n/a (fewer than 2 seeds or 3 cells).', '',
  '| seed | cells | mean % | sd across cells | Kendall τ vs the mean truth |', '|---|---|---|---|---|',
  ...summary.perSeed.map((p) => `| ${p.seed} | ${p.cells} | ${f2(p.mean)} | ${f2(p.sd)} | ${f3(p.kendallVsMean)} |`), '',
  '| seed truths | Kendall τ-b | Spearman | mean difference (points) |', '|---|---|---|---|',
  ...pairs.map((p) => `| ${p.seeds[0]} vs ${p.seeds[1]} | ${f3(p.kendall)} | ${f3(p.spearman)} | ${f2(p.meanDifference)} |`), '',
  summary.parameters
    ? `Parameter count: Kendall τ ${f3(summary.parameters.kendallVsMean)} (Spearman ${f3(summary.parameters.spearmanVsMean)}) against the mean truth; ` +
      `against each seed ${summary.parameters.kendallVsSeed.map((p) => `s${p.seed} ${f3(p.kendall)}`).join(', ')}.`
    : 'Parameter count: n/a (no retrained cells).',
];
writeFileAtomic(join(dir, `truth-seeds${tag}.md`), `${md.join('\n')}\n`);
console.log(md.join('\n'));
