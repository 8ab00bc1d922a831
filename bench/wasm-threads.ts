// `node dist/bench/wasm-threads.js [--config nb201-step-c8n1b32] [--steps 8] [--sides 1,2,2:0]`
// (`T`: T threads with the adaptive spin-or-sleep choice; `T:µs`: a fixed spin budget)
// The NB201 DARTS step on wasm backends with different thread counts (and spin budgets, `T:µs`) in one
// process, one step of each side in turn so that all see the same machine load: wall median, best and
// CPU ms per step (process.cpuUsage: all threads, spinning included). For the thread-pool changes of
// docs/wasm-backend.md ("Threads"); the load average is printed with the figures.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../src/engine/wasm/wasm-backend.js';
import { STEP_CONFIGS, makeMethod, stepBatches } from './nb201-step.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'nb201-step-c8n1b32' },
    steps: { type: 'string', default: '8' },
    sides: { type: 'string', default: '1,2' },
  },
});
const cfg = STEP_CONFIGS.find((c) => c.name === values.config);
if (!cfg) throw new Error(`unknown --config ${values.config} (known: ${STEP_CONFIGS.map((c) => c.name).join(', ')})`);
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const sides = [];
for (const spec of values.sides!.split(',')) {
  const [t, spin] = spec.split(':').map(Number);
  const be = await WasmBackend.create({ threads: t, ...(spin !== undefined ? { spinMicros: spin } : {}) });
  const method = makeMethod(be, cfg);
  sides.push({ spec, be, method, ...stepBatches(be, cfg), wall: [] as number[], cpu: [] as number[] });
}
const load0 = loadavg()[0];
for (let i = -1; i < Number(values.steps); i++) {
  for (const s of sides) {
    const c0 = cpuMs(), t0 = performance.now();
    await s.method.trainStep(s.train, s.valid, { updateArch: true });
    await s.be.sync();
    if (i >= 0) { s.wall.push(performance.now() - t0); s.cpu.push(cpuMs() - c0); }
  }
}
const med = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
console.log(`${cfg.name}, ${values.steps} steps per side, load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
console.log('side'.padEnd(44) + 'wall med'.padStart(10) + 'best'.padStart(9) + 'CPU med'.padStart(9));
for (const s of sides) {
  console.log(`${s.spec} (${s.be.description})`.padEnd(44) + med(s.wall).toFixed(1).padStart(10) +
    Math.min(...s.wall).toFixed(1).padStart(9) + med(s.cpu).toFixed(1).padStart(9));
  const c = s.be.threadPool.counts;
  if (c.runs) console.log(`  ${c.single} calls on the caller alone, ${c.runs} split: parts run by the caller ${c.mine}, by workers ${c.theirs} (waited for ${c.waited}); spinning at the end: ${s.be.threadPool.spinning}`);
  s.method.dispose();
  s.be.dispose();
}
process.exit(0);
