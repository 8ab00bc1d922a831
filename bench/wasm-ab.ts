// `node dist/bench/wasm-ab.js [--threads 1] [--reps 5] [--rounds 3] [--batch 64] [--small] [--variant packed|wgradBatch] [--ops fwd,dgrad,wgrad]`
// (--small: the c8n1b32 step's stages, C8 16×16, C16 8×8, C32 4×4, instead of C16 32×32 … C64 8×8)
// The wasm backend's convolutions at the NB201 stage shapes (fused input ReLU, as the search runs
// them), each kernel form against its previous one (switches.wasmPackedGemm / wasmWeightGradBatch switched per call) in one
// process, rounds alternating so that both see the same machine load. CPU ms per call
// (process.cpuUsage: all threads), the best round of each; GFLOP/s from it; ratio = old / new.
import { parseArgs } from 'node:util';
import type { ConvGeom, Storage } from '../src/engine/backend.js';
import { WasmBackend } from '../src/engine/wasm/wasm-backend.js';
import { switches } from '../src/engine/switches.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' },
    reps: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    batch: { type: 'string', default: '64' },
    small: { type: 'boolean', default: false },
    variant: { type: 'string', default: 'packed' },
    ops: { type: 'string', default: 'fwd,dgrad,wgrad' },
  },
});
const reps = Number(values.reps), rounds = Number(values.rounds), N = Number(values.batch);
const be = await WasmBackend.create({ threads: Number(values.threads) });
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const filled = (n: number): Storage => be.upload(new Float32Array(n).map((_, i) => Math.sin(i * 0.618)));

type Variant = { name: string; set: (on: boolean) => void };
const known: Variant[] = [
  { name: 'packed', set: (on) => { switches.wasmPackedGemm = on; } },
  { name: 'wgradBatch', set: (on) => { switches.wasmWeightGradBatch = on; } },
];
const variants = known.filter((v) => v.name === values.variant);
if (!variants.length) throw new Error(`unknown --variant ${values.variant} (known: ${known.map((v) => v.name).join(', ')})`);
const stages = values.small ? [{ C: 8, S: 16 }, { C: 16, S: 8 }, { C: 32, S: 4 }] : [{ C: 16, S: 32 }, { C: 32, S: 16 }, { C: 64, S: 8 }];
const wanted = new Set(values.ops!.split(','));

console.log(`${be.description}; N=${N}, best of ${rounds} rounds of ${reps} calls, CPU ms per call`);
console.log('kernel'.padEnd(30) + 'old ms'.padStart(9) + 'new ms'.padStart(9) + 'old GF/s'.padStart(10) + 'new GF/s'.padStart(10) + 'ratio'.padStart(7));
for (const { C, S } of stages) {
  for (const k of [3, 1]) {
    const p = (k - 1) / 2;
    const g: ConvGeom = { N, Cin: C, H: S, W: S, Cout: C, KH: k, KW: k, OH: S, OW: S, strideH: 1, strideW: 1, padH: p, padW: p,
      dilH: 1, dilW: 1, groups: 1, reluInput: true };
    const x = filled(N * C * S * S), w = filled(C * C * k * k), y = be.alloc(N * C * S * S), dx = be.alloc(N * C * S * S), dw = be.alloc(C * C * k * k);
    const flops = 2 * N * C * C * k * k * S * S;
    const ops: [string, () => void][] = [
      ['fwd', () => be.conv2d(x, w, null, y, g)],
      ['dgrad', () => be.conv2dInputGrad(y, w, dx, g, x)],
      ['wgrad', () => be.conv2dWeightGrad(y, x, dw, g)],
    ];
    for (const [opName, fn] of ops) {
      if (!wanted.has(opName)) continue;
      for (const v of variants) {
        const best = [Infinity, Infinity];
        for (let r = 0; r < rounds; r++) {
          for (const [i, on] of [false, true].entries()) {
            v.set(on);
            fn();
            const t0 = cpuMs();
            for (let i2 = 0; i2 < reps; i2++) fn();
            best[i] = Math.min(best[i], (cpuMs() - t0) / reps);
          }
        }
        v.set(true);
        console.log(`${v.name} conv${k}x${k}-${opName} C${C} ${S}x${S}`.padEnd(30) + best[0].toFixed(2).padStart(9) + best[1].toFixed(2).padStart(9) +
          (flops / best[0] / 1e6).toFixed(1).padStart(10) + (flops / best[1] / 1e6).toFixed(1).padStart(10) + (best[0] / best[1]).toFixed(2).padStart(7));
      }
    }
    for (const s of [x, w, y, dx, dw]) be.release(s);
  }
}
be.dispose();
process.exit(0);
