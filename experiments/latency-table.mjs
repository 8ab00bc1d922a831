// The latency lookup table of the MobileNet space at the quick preset's sizes (width 0.25, 1×32×32,
// 10 classes) on a backend: how long it takes to build, its range, and how well its additive model
// predicts whole networks — for random genotypes, fixed + Σ_d lat(d, g_d) against the measured batch-1
// latency of the stand-alone network (src/nas/latency.ts, median of 9). Wall-clock: load included.
//
//   node experiments/latency-table.mjs [device=wasm] [archs=6] [repeats=5]
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(ROOT, 'dist/src', p));
const { measureLatencyTable } = await imp('nas/latency-table.js');
const { measureLatency } = await imp('nas/latency.js');
const { createBackend, describeBackend } = await imp('engine/select-backend.js');
const { getSpace } = await imp('spaces/registry.js');
const { Rng } = await imp('data/rng.js');
const { Rng: EngineRng } = await imp('engine/rng.js');

const opt = Object.fromEntries(process.argv.slice(2).map((a) => a.split('=')));
const be = await createBackend(opt.device ?? 'wasm', { log: (m) => process.stderr.write(`note: ${m}\n`) });
const space = getSpace('mobilenet');
const sizes = { C: 8, N: 1, inputChannels: 1, numClasses: 10 };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
let c0 = cpu(), w0 = performance.now();
const t = await measureLatencyTable(be, space, sizes, 32, { device: describeBackend(be), repeats: Number(opt.repeats ?? 5) });
const build = { cpuS: +(cpu() - c0).toFixed(2), wallS: +((performance.now() - w0) / 1000).toFixed(2) };
const v = t.ops.flat().filter((x) => x !== null && x > 0);
console.log(JSON.stringify({ device: t.device, build, fixed: +t.fixed.toFixed(3), fixedParts: t.fixedParts, opMin: Math.min(...v), opMax: Math.max(...v), entries: v.length }));
const rng = new Rng(11);
for (let k = 0; k < Number(opt.archs ?? 6); k++) {
  const g = space.sampleSinglePath(rng, space.fullMask());
  const predicted = t.fixed + g.reduce((s, j, d) => s + t.ops[d][j], 0);
  const net = space.buildNetwork(be, new EngineRng(k), { ...sizes, genotype: g });
  const [row] = await measureLatency(be, net, [1, 32, 32], [1], 9);
  net.dispose();
  console.log(JSON.stringify({ genotype: space.formatGenotype(g), predictedMs: +predicted.toFixed(3), measuredMs: +row.medianMs.toFixed(3), ratio: +(row.medianMs / predicted).toFixed(3) }));
}
