// Backends and numeric helpers shared by the tests.
//
// testBackends() gives a CPU reference backend and a WebGPU backend. No WebGPU adapter is a test
// failure (the kernels would go untested) unless GMNAS_ALLOW_NO_GPU=1, in which case gpu is null and
// the caller skips, saying so.
// With GMNAS_TEST_DEVICE=wasm the backend under test (still called `gpu` by the suites) is the wasm
// backend instead: the test/engine/wasm-*.test.ts files set it and import a WebGPU suite, so one suite
// checks both backends against the CPU reference.
import type { Backend } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { WebGpuBackend } from '../../src/engine/webgpu/webgpu-backend.js';
import { requestAdapter } from '../../src/engine/webgpu/device.js';
import { WasmBackend } from '../../src/engine/wasm/wasm-backend.js';

let announced = false;

/** Whether the suites run against the wasm backend (see above). */
export function testingWasm(): boolean {
  return process.env.GMNAS_TEST_DEVICE === 'wasm';
}

export async function testBackends(): Promise<{ cpu: Backend; gpu: Backend | null; adapter: string }> {
  const cpu = new CpuBackend();
  if (testingWasm()) {
    // two threads whatever the machine, so the work splitting is what the suites check
    const wasm = await WasmBackend.create({ threads: 2 });
    if (!announced) console.log(`  [${wasm.description}]`);
    announced = true;
    return { cpu, gpu: wasm, adapter: wasm.description };
  }
  const adapter = await requestAdapter();
  if (!adapter) {
    if (process.env.GMNAS_ALLOW_NO_GPU === '1') {
      if (!announced) console.log('  [no WebGPU adapter: WebGPU tests SKIPPED (GMNAS_ALLOW_NO_GPU=1)]');
      announced = true;
      return { cpu, gpu: null, adapter: 'none' };
    }
    throw new Error('no WebGPU adapter: the WebGPU tests cannot run. Install Mesa lavapipe ' +
      '(mesa-vulkan-drivers) or set GMNAS_ALLOW_NO_GPU=1 to skip them.');
  }
  const gpu = await WebGpuBackend.create();
  if (!announced) console.log(`  [${gpu.description}]`);
  announced = true;
  return { cpu, gpu, adapter: gpu.description };
}

/**
 * Fail unless |actual - expected| <= atol + rtol * |expected| everywhere (NaN matches only NaN,
 * infinities must be equal). The message names the label, the worst index and both values.
 */
export function assertClose(actual: Float32Array, expected: Float32Array, rtol: number, atol: number, label: string): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) && Number.isNaN(a)) continue;
      worst = i; worstExcess = Infinity; break;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a === e) continue;
      worst = i; worstExcess = Infinity; break;
    }
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
  }
  if (worst >= 0) {
    const a = actual[worst], e = expected[worst];
    throw new Error(`${label}: mismatch at index ${worst} of ${actual.length}: got ${a}, expected ${e} ` +
      `(|diff| ${Math.abs(a - e).toExponential(3)} > atol ${atol} + rtol ${rtol} * |expected|)`);
  }
}

/** mulberry32: a small deterministic u32 generator. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n standard normal values (Box-Muller), deterministic in seed. */
export function randn(n: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = Math.max(next(), 1e-12), u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** n values uniform in [lo, hi), deterministic in seed. */
export function randu(n: number, lo: number, hi: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}
