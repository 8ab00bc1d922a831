// Is the retrained cells' test accuracy noisy because of the evaluation? (issue #18, docs/quality.md
// "Where the truth's noise comes from"). Retrains each cell × seed exactly as `train --like RUN --seed S`
// does (src/nas/retrain.ts retrainGenotype, the same seeds, batches and network) and scores the trained
// network on the test split three ways:
//   a  stored      eval-mode BN with the running statistics the training left (what `train` reports;
//                  checked against retrainGenotype's own figure)
//   b  plain       BN statistics re-estimated as the plain average over N unaugmented training batches
//   c  plain-aug   the same on N augmented (crop + flip) training batches
// then prints per-cell mean / sd across seeds for each, and Kendall τ-b between every two seed truths.
// Writes OUT.json (every figure) and OUT.md (the tables) when OUT is given.
//
//   node experiments/bn-eval-noise.mjs --like RUN --cells FILE --seeds "0 1 2" [--batches 50] [--out OUT]
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { validateSearchConfig } = await import(join(ROOT, 'dist/src/nas/config.js'));
const { loadSearchData, loadSearchTestSet } = await import(join(ROOT, 'dist/src/nas/search-data.js'));
const { retrainGenotype, RETRAIN_HYPER } = await import(join(ROOT, 'dist/src/nas/retrain.js'));
const { reestimateBatchNorm } = await import(join(ROOT, 'dist/src/nas/bn-recalibrate.js'));
const { evaluateNetwork } = await import(join(ROOT, 'dist/src/search/standalone.js'));
const { uploadBatch } = await import(join(ROOT, 'dist/src/search/batch.js'));
const { BatchSampler, evalBatches } = await import(join(ROOT, 'dist/src/data/sampler.js'));
const { hashSeed } = await import(join(ROOT, 'dist/src/data/rng.js'));
const { createBackend, describeBackend } = await import(join(ROOT, 'dist/src/engine/select-backend.js'));
const { getSpace } = await import(join(ROOT, 'dist/src/spaces/registry.js'));
const { batchNormsByPath } = await import(join(ROOT, 'dist/src/engine/index.js'));
const { kendallTau } = await import(join(ROOT, 'dist/src/stats/rank.js'));
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const { values: a } = parseArgs({ options: {
  like: { type: 'string' }, cells: { type: 'string' }, seeds: { type: 'string' }, batches: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' },
} });
const fail = (m) => { console.error(`bn-eval-noise.mjs: ${m}`); process.exit(2); };
if (!a.like || !a.cells || !a.seeds) fail('usage: node experiments/bn-eval-noise.mjs --like RUN --cells FILE --seeds "0 1 2" [--batches N] [--out OUT]');
const runDir = resolve(a.like);
const stateFile = existsSync(join(runDir, 'state.json')) ? join(runDir, 'state.json') : join(runDir, 'result.json');
if (!existsSync(stateFile)) fail(`--like ${a.like}: neither state.json nor result.json there`);
const config = JSON.parse(readFileSync(stateFile, 'utf8')).config;
try { validateSearchConfig(config); } catch (e) { fail(`--like ${a.like}: ${e.message}`); }
const space = getSpace(config.space);
const cells = readFileSync(a.cells, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  .map((l, i) => { try { return space.formatGenotype(space.parseGenotype(l)); } catch (e) { return fail(`${a.cells}:${i + 1}: ${e.message}`); } });
const seeds = a.seeds.trim().split(/\s+/).map(Number);
if (seeds.some((s) => !Number.isInteger(s) || s < 0)) fail(`--seeds '${a.seeds}': expected non-negative integers`);
const nBatches = a.batches === undefined ? 50 : Number(a.batches);
if (!Number.isInteger(nBatches) || nBatches < 1) fail(`--batches ${a.batches}: expected an integer >= 1`);
const epochs = config.retrainEpochs;
if (!(epochs >= 1)) fail(`--like ${a.like}: the run has no retraining epochs`);

const MODES = ['stored', 'plain', 'plain-aug'];
const BN_STREAM = 0xb4e7; // the re-estimation batches: their own stream, not the training's order
const data = loadSearchData(config);
const testRaw = loadSearchTestSet(config);
const backend = await createBackend(a.device ?? 'auto', {});
const device = describeBackend(backend);
const say = (s) => process.stderr.write(`${s}\n`);
/** results[cell][seed] = { stored, plain, 'plain-aug', reported, train } */
const results = cells.map(() => ({}));
const t0 = process.cpuUsage();
try {
  for (const [ci, arch] of cells.entries()) {
    for (const seed of seeds) {
      const r = {};
      const ret = await retrainGenotype({
        backend, config: { ...config, seed }, data, test: testRaw, genotype: arch, epochs,
        // the version-1 protocol (the statistics training left): this experiment compares against it
        bnBatches: 0,
        inspect: async (net, test) => {
          const shape = data.imageShape;
          const score = async () => (await evaluateNetwork(net, evalBatches(test, 256), shape)).accuracy;
          r.stored = await score();
          for (const augment of [false, true]) {
            // same batch size and normalisation as the training sampler (retrainGenotype's BatchSampler defaults)
            const sampler = new BatchSampler(data.train, { batchSize: RETRAIN_HYPER.batchSize, seed: hashSeed(seed, BN_STREAM), augment });
            const batches = Array.from({ length: nBatches }, () => uploadBatch(backend, sampler.next(), shape));
            const firstBn = [...batchNormsByPath(net).values()].find((b) => b.runningMean !== null);
            const before = Array.from(await firstBn.runningMean.data());
            try {
              reestimateBatchNorm(net, (x) => { net.forward(x); }, batches);
              const after = await firstBn.runningMean.data();
              if (!before.some((v, k) => Math.abs(v - after[k]) > 1e-6)) say(`warning: ${arch} seed ${seed}: the re-estimation left the first BN's running mean unchanged`);
            } finally {
              for (const b of batches) { b.x.dispose(); b.y.dispose(); }
            }
            r[augment ? 'plain-aug' : 'plain'] = await score();
          }
        },
      });
      r.reported = ret.testAccuracy;
      r.train = ret.trainAccuracy;
      results[ci][seed] = r;
      say(`${arch} seed ${seed}: reported ${ret.testAccuracy.toFixed(2)}  stored ${r.stored.toFixed(2)}  plain ${r.plain.toFixed(2)}  plain-aug ${r['plain-aug'].toFixed(2)}  train ${r.train.toFixed(2)}  (${ret.seconds.toFixed(1)} s)`);
      if (Math.abs(r.stored - ret.testAccuracy) > 1e-6) say(`warning: the stored-statistics score ${r.stored} differs from retrainGenotype's ${ret.testAccuracy}`);
    }
  }
} finally {
  backend.dispose();
}
const cpu = process.cpuUsage(t0);

const mean = (v) => v.reduce((s, x) => s + x, 0) / v.length;
const sd = (v) => (v.length < 2 ? NaN : Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1)));
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const cols = [...MODES, 'train'];
const lines = [];
lines.push(`${cells.length} cells × seeds ${seeds.join(', ')}, like ${runDir} (${epochs} epochs), BN re-estimation on ${nBatches} batches of 64, ${device}`);
lines.push('');
lines.push(`| cell | ${cols.map((m) => `${m}: ${seeds.map((s) => `s${s}`).join(' / ')} | ${m} mean ± sd`).join(' | ')} |`);
lines.push(`|---|${cols.map(() => '---|---').join('|')}|`);
const summary = {};
for (const m of cols) summary[m] = { sds: [], taus: [] };
for (const [ci, arch] of cells.entries()) {
  const parts = cols.map((m) => {
    const v = seeds.map((s) => results[ci][s][m]);
    summary[m].sds.push(sd(v));
    return `${v.map(f).join(' / ')} | ${f(mean(v))} ± ${f(sd(v))}`;
  });
  lines.push(`| \`${arch}\` | ${parts.join(' | ')} |`);
}
lines.push('');
lines.push('| evaluation | mean per-cell sd | τ-b between seed truths (pairs) |');
lines.push('|---|---|---|');
for (const m of cols) {
  const taus = [];
  for (let i = 0; i < seeds.length; i++) for (let j = i + 1; j < seeds.length; j++) {
    const x = cells.map((_, ci) => results[ci][seeds[i]][m]), y = cells.map((_, ci) => results[ci][seeds[j]][m]);
    taus.push({ pair: `s${seeds[i]}-s${seeds[j]}`, tau: cells.length >= 2 ? kendallTau(x, y) : NaN });
  }
  summary[m].taus = taus;
  lines.push(`| ${m} | ${f(mean(summary[m].sds))} | ${taus.map((t) => `${t.pair} ${Number.isFinite(t.tau) ? t.tau.toFixed(3) : '—'}`).join(', ')} |`);
}
lines.push('');
lines.push(`CPU ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s (process.cpuUsage; shared machine)`);
console.log(lines.join('\n'));
if (a.out) {
  writeFileAtomic(`${a.out}.json`, `${JSON.stringify({ like: runDir, epochs, seeds, batches: nBatches, device, cells, results, summary, cpuSeconds: (cpu.user + cpu.system) / 1e6, date: new Date().toISOString() }, null, 2)}\n`);
  writeFileAtomic(`${a.out}.md`, `${lines.join('\n')}\n`);
}
