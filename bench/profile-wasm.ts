// `node dist/bench/profile-wasm.js [--config nb201-step-c16n5b64] [--steps 1] [--threads 1] [--json] [--unpacked]`
// (--unpacked: the convolutions' previous forms, switches.wasmPackedGemm = false, for before/after figures)
// Where the CPU time of one NB201 DARTS step goes on the wasm backend: every Backend method of the
// instance is wrapped to add its CPU time (process.cpuUsage: all threads of the process) and call
// count per method name; what is left of the step's CPU time is host work outside the backend
// (autograd, module bookkeeping, JS↔Wasm argument marshalling of the callers). Nested calls (an op
// calling another op of the backend) count only in the outermost.
import { parseArgs } from 'node:util';
import { WasmBackend } from '../src/engine/wasm/wasm-backend.js';
import { STEP_CONFIGS, benchStep } from './nb201-step.js';
import { switches } from '../src/engine/switches.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'nb201-step-c16n5b64' },
    steps: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    unpacked: { type: 'boolean', default: false },
  },
});
const cfg = STEP_CONFIGS.find((c) => c.name === values.config);
if (!cfg) {
  console.error(`unknown --config ${values.config} (known: ${STEP_CONFIGS.map((c) => c.name).join(', ')})`);
  process.exit(2);
}
const be = await WasmBackend.create({ threads: Number(values.threads) });
switches.wasmPackedGemm = !values.unpacked;
const perOp = new Map<string, { count: number; us: number }>();
let depth = 0, recording = false;
const cpuUs = (): number => { const u = process.cpuUsage(); return u.user + u.system; };
const skip = new Set(['constructor', 'arr', 'ptr', 'temp', 'launch', 'withTemp', 'par', 'parAxpy', 'dispatchCount', 'memoryStats',
  'sync', 'flush', 'threadCount', 'description', 'kind']);
for (let proto = Object.getPrototypeOf(be); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
  for (const name of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, name);
    if (skip.has(name) || !d || typeof d.value !== 'function' || Object.prototype.hasOwnProperty.call(be, name)) continue;
    const f = d.value as (...a: unknown[]) => unknown;
    Object.defineProperty(be, name, {
      value: function (this: unknown, ...a: unknown[]) {
        if (!recording || depth > 0) return f.apply(this, a);
        depth++;
        const t0 = cpuUs();
        try { return f.apply(this, a); } finally {
          depth--;
          const e = perOp.get(name) ?? { count: 0, us: 0 };
          e.count++; e.us += cpuUs() - t0;
          perOp.set(name, e);
        }
      },
    });
  }
}
let stepUs = 0, t0 = 0;
const res = await benchStep(be, cfg, { steps: Number(values.steps), label: 'wasm' }, {
  before: () => { recording = true; t0 = cpuUs(); },
  after: () => { stepUs += cpuUs() - t0; recording = false; },
});
const steps = Number(values.steps);
const rows = [...perOp.entries()].sort((a, b) => b[1].us - a[1].us);
const inOps = rows.reduce((s, [, v]) => s + v.us, 0);
if (values.json) {
  console.log(JSON.stringify({ bench: `${cfg.name}-wasm-profile`, threads: be.threadCount, cpu_ms_per_step: stepUs / 1e3 / steps,
    ops: Object.fromEntries(rows.map(([k, v]) => [k, { count: v.count / steps, ms: v.us / 1e3 / steps }])) }));
} else {
  console.log(`${be.description}\n${cfg.name}: ${(stepUs / 1e3 / steps).toFixed(0)} ms CPU per step (wall median ${res.ms} ms), ` +
    `${((stepUs - inOps) / 1e3 / steps).toFixed(0)} ms outside backend ops\n`);
  console.log('op'.padEnd(34) + 'calls'.padStart(7) + 'ms'.padStart(10) + '%'.padStart(7) + '  µs/call');
  for (const [k, v] of rows) {
    console.log(k.padEnd(34) + String(v.count / steps).padStart(7) + (v.us / 1e3 / steps).toFixed(1).padStart(10) +
      (100 * v.us / stepUs).toFixed(1).padStart(7) + '  ' + (v.us / v.count).toFixed(0));
  }
}
be.dispose();
process.exit(0);
