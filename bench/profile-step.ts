// `node dist/bench/profile-step.js [--config nb201-step-c16n5b64] [--steps 1] [--json]`
// Where the device time of one NB201 DARTS step goes on this adapter: every dispatch of the step in
// its own timestamped compute pass (GpuRuntime.startProfile), summed per kernel (pipeline label)
// and per kernel family (shader:entry), with dispatch counts. Host time = wall time − device time
// (encoding, autograd bookkeeping, the per-dispatch passes of the profiling mode itself).
import { parseArgs } from 'node:util';
import { WebGpuBackend } from '../src/engine/webgpu/webgpu-backend.js';
import type { ProfileEntry } from '../src/engine/webgpu/runtime.js';
import { STEP_CONFIGS, benchStep } from './nb201-step.js';
import { installNodeGpu } from './gpu-global.js';
import { kernelFamilies } from './kernel-families.js';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: 'nb201-step-c16n5b64' },
    steps: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    labels: { type: 'boolean', default: false },
  },
});
const cfg = STEP_CONFIGS.find((c) => c.name === values.config);
if (!cfg) {
  console.error(`unknown --config ${values.config} (known: ${STEP_CONFIGS.map((c) => c.name).join(', ')})`);
  process.exit(2);
}
await installNodeGpu();
const be = await WebGpuBackend.create();
const rt = be.rt;
let entries: ProfileEntry[] = [];
const res = await benchStep(be, cfg, { steps: Number(values.steps), label: 'webgpu' }, {
  before: () => rt.startProfile(),
  after: async () => { entries = await rt.stopProfile(); },
});
const { families: fams, deviceMs } = kernelFamilies(entries);
if (values.json) {
  console.log(JSON.stringify({ bench: `${cfg.name}-profile`, wall_ms: res.ms, device_ms: deviceMs, dispatches: res.dispatches,
    families: Object.fromEntries(fams.map(([k, v]) => [k, { count: v.count, ms: v.ns / 1e6 }])) }));
} else {
  console.log(`${be.description}\n${cfg.name}: wall ${res.ms.toFixed(0)} ms (profiling mode), device ${deviceMs.toFixed(0)} ms, ` +
    `${res.dispatches} dispatches\n`);
  console.log('family'.padEnd(44) + 'count'.padStart(7) + 'ms'.padStart(10) + '%'.padStart(7) + '  µs/dispatch');
  for (const [k, v] of fams) {
    console.log(k.padEnd(44) + String(v.count).padStart(7) + (v.ns / 1e6).toFixed(1).padStart(10) +
      (100 * v.ns / 1e6 / deviceMs).toFixed(1).padStart(7) + '  ' + (v.ns / 1e3 / v.count).toFixed(0));
  }
  if (values.labels) {
    console.log('\nper pipeline:');
    for (const e of entries) console.log(e.label.padEnd(100) + String(e.count).padStart(6) + (e.ns / 1e6).toFixed(1).padStart(10));
  }
}
be.dispose();
process.exit(0);
