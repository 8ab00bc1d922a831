// `node dist/bench/profile-gm.js [--space darts] [--C 4] [--N 3] [--batch 16] [--size 16] [--channels 1]
//   [--edge 0] [--repeats 2] [--device webgpu|wasm|cpu] [--profile] [--json] [--ab ROUNDS]`
// --ab ROUNDS: instead, alternate in this process (same load for both) the engine as it was before
// the GM-pass work (one read per gradient tensor, the conv → BN tail unfused) and as it is, R repeats
// per round; prints CPU seconds per pass of each round and the medians.
// The cost of GM scoring passes (src/nas/gm-score.ts) as a search runs them: the DARTS base method
// at the given supernet size, `gmEdgeDistance` on one edge with R repeats (R × the edge's enabled ops
// forward/backward passes), after one warm-up repeat (pipeline compiles, pool growth). Reports CPU
// seconds per pass (process.cpuUsage: every thread of the process, lavapipe's included), wall per
// pass and kernel launches per pass; `--profile` (webgpu) also times every dispatch on the device
// and sums them by kernel family, so host time = wall − device time.
// Run it in separate processes to compare LP_NUM_THREADS values (Mesa reads it once, at start).
import { parseArgs } from 'node:util';
import { getSpace } from '../src/spaces/registry.js';
import type { Backend } from '../src/engine/backend.js';
import { createBaseMethod, type HostBatch } from '../src/search/index.js';
import { gmEdgeDistance } from '../src/nas/gm-score.js';
import type { ProfileEntry } from '../src/engine/webgpu/runtime.js';
import { installNodeGpu } from './gpu-global.js';
import { kernelFamilies } from './kernel-families.js';
import { readdirSync, readFileSync } from 'node:fs';
import { switches } from '../src/engine/switches.js';

/** CPU seconds (user + system) of each thread of this process, summed by thread name (Linux
 *  /proc/self/task/<tid>/stat; empty elsewhere): separates the JS main thread and Dawn's from
 *  lavapipe's worker threads. */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[] = [];
  try { tids = readdirSync('/proc/self/task'); } catch { return out; }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9:]+$/, '');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
      out.set(name, (out.get(name) ?? 0) + ticks / 100);
    } catch { /* the thread ended */ }
  }
  return out;
}

const { values } = parseArgs({
  options: {
    space: { type: 'string', default: 'darts' },
    C: { type: 'string', default: '4' },
    N: { type: 'string', default: '3' },
    batch: { type: 'string', default: '16' },
    size: { type: 'string', default: '16' },
    channels: { type: 'string', default: '1' },
    edge: { type: 'string', default: '0' },
    repeats: { type: 'string', default: '2' },
    device: { type: 'string', default: 'webgpu' },
    profile: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    ab: { type: 'string', default: '0' },
  },
});
const num = (k: keyof typeof values): number => Number(values[k]);
const [C, N, batch, size, channels, edge, repeats] = (['C', 'N', 'batch', 'size', 'channels', 'edge', 'repeats'] as const).map(num);

async function makeBackend(kind: string): Promise<Backend> {
  if (kind === 'webgpu') {
    await installNodeGpu();
    const { WebGpuBackend } = await import('../src/engine/webgpu/webgpu-backend.js');
    return WebGpuBackend.create(process.env.GM_BG_KEYS ? { maxBindGroupKeys: Number(process.env.GM_BG_KEYS) } : {});
  }
  if (kind === 'wasm') {
    const { WasmBackend } = await import('../src/engine/wasm/wasm-backend.js');
    return WasmBackend.create({ threads: 1 });
  }
  const { CpuBackend } = await import('../src/engine/cpu/cpu-backend.js');
  return new CpuBackend();
}

const be = await makeBackend(values.device!);
const method = createBaseMethod('darts', {
  backend: be, space: getSpace(values.space),
  sizes: { C, N, inputChannels: channels, numClasses: 10 },
  imageShape: [channels, size, size],
  seed: 1,
  hyper: { batchSize: batch },
});
let s = 12345;
const x = new Float32Array(batch * channels * size * size).map(() => { s = (s * 1664525 + 1013904223) >>> 0; return (s / 2 ** 32) * 2 - 1; });
const y = new Float32Array(batch).map((_, i) => (i * 7) % 10);
const batches = { next: (): HostBatch => ({ x, y, n: batch }) };

const score = (r: number): Promise<unknown> => gmEdgeDistance(method, edge, { repeats: r, metric: 'cos', batches });
await score(1); // warm-up
await be.sync();
if (Number(values.ab) > 0) {
  const readMany = be.readMany.bind(be);
  const setSide = (before: boolean): void => {
    switches.convBnTail = !before;
    be.readMany = before ? (items) => Promise.all(items.map(({ s: st, n }) => be.read(st, n))) : readMany;
  };
  setSide(true);
  await score(1); // the other side's warm-up (its pipelines, pool sizes)
  const sides = { before: [] as number[], after: [] as number[] };
  const passes = repeats * method.space.enabledOps(method.mask, edge).length;
  for (let round = 0; round < Number(values.ab); round++) {
    for (const side of ['before', 'after'] as const) {
      setSide(side === 'before');
      const c0 = process.cpuUsage(), t0 = performance.now(), d0 = be.dispatchCount();
      await score(repeats);
      await be.sync();
      const c = process.cpuUsage(c0);
      sides[side].push((c.user + c.system) / 1e6 / passes);
      console.log(`round ${round} ${side}: ${((c.user + c.system) / 1e6 / passes).toFixed(3)} CPU s/pass, ` +
        `${((performance.now() - t0) / 1e3 / passes).toFixed(3)} wall s/pass, ${((be.dispatchCount() - d0) / passes).toFixed(0)} launches/pass`);
    }
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`median CPU s/pass: before ${med(sides.before).toFixed(3)}, after ${med(sides.after).toFixed(3)} ` +
    `(ratio ${(med(sides.before) / med(sides.after)).toFixed(2)}); LP_NUM_THREADS ${process.env.LP_NUM_THREADS ?? '(unset)'}`);
  method.dispose();
  be.dispose();
  process.exit(0);
}
const rt = (be as { rt?: { startProfile(): void; stopProfile(): Promise<ProfileEntry[]> } }).rt;
if (values.profile && rt) rt.startProfile();
const passesPerRepeat = method.space.enabledOps(method.mask, edge).length;
// native calls per pass that cost host time on the main thread
const calls: Record<string, number> = {};
const callMs: Record<string, number> = {};
const dev = (rt as unknown as { device?: GPUDevice } | undefined)?.device;
if (dev) {
  const count = (obj: object, name: string, label: string): void => {
    const o = obj as Record<string, (...a: unknown[]) => unknown>;
    const f = o[name]!;
    o[name] = function (this: unknown, ...a: unknown[]) {
      calls[label] = (calls[label] ?? 0) + 1;
      const t0 = performance.now();
      try { return f.apply(this, a); } finally { callMs[label] = (callMs[label] ?? 0) + performance.now() - t0; }
    };
  };
  count(dev, 'createBindGroup', 'createBindGroup');
  count(dev, 'createBuffer', 'createBuffer');
  count(dev, 'createCommandEncoder', 'createCommandEncoder');
  count(dev.queue, 'writeBuffer', 'writeBuffer');
  count(dev.queue, 'submit', 'submit');
}
const threads0 = threadCpu();
const cpu0 = process.cpuUsage();
const d0 = be.dispatchCount();
const t0 = performance.now();
await score(repeats);
await be.sync();
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const passes = repeats * passesPerRepeat;
const threads1 = threadCpu();
const byThread = Object.fromEntries([...threads1.entries()].map(([k, v]) => [k, Math.round(((v - (threads0.get(k) ?? 0)) / passes) * 1000) / 1000])
  .filter(([, v]) => (v as number) > 0));
const entries = values.profile && rt ? await rt.stopProfile() : [];
const out = {
  bench: `gm-pass-${values.space}-c${C}n${N}b${batch}s${size}`, device: be.description, lp_num_threads: process.env.LP_NUM_THREADS ?? null,
  passes, cpu_s_per_pass: (cpu.user + cpu.system) / 1e6 / passes, user_s_per_pass: cpu.user / 1e6 / passes, sys_s_per_pass: cpu.system / 1e6 / passes,
  wall_s_per_pass: wallMs / 1e3 / passes, launches_per_pass: (be.dispatchCount() - d0) / passes, cpu_s_per_pass_by_thread: byThread,
  native_calls_per_pass: Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, Math.round(v / passes)])),
  native_ms_per_pass: Object.fromEntries(Object.entries(callMs).map(([k, v]) => [k, Math.round(v / passes)])),
};
if (values.json) console.log(JSON.stringify(out));
else console.log(Object.entries(out).map(([k, v]) => `${k}: ${typeof v === 'number' ? Math.round(v * 1000) / 1000 : JSON.stringify(v)}`).join('\n'));
if (entries.length) {
  const { families, deviceMs } = kernelFamilies(entries);
  console.log(`\ndevice ${(deviceMs / passes).toFixed(0)} ms per pass (profiling mode: one pass per dispatch)`);
  console.log('family'.padEnd(44) + 'per pass'.padStart(9) + 'ms/pass'.padStart(9) + '%'.padStart(7) + '  µs/dispatch');
  for (const [k, v] of families) {
    console.log(k.padEnd(44) + (v.count / passes).toFixed(0).padStart(9) + (v.ns / 1e6 / passes).toFixed(1).padStart(9) +
      (100 * v.ns / 1e6 / deviceMs).toFixed(1).padStart(7) + '  ' + (v.ns / 1e3 / v.count).toFixed(0));
  }
}
method.dispose();
be.dispose();
process.exit(0);
