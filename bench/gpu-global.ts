// One Dawn GPU object for the whole bench process, published as `navigator.gpu`: gmnas's device code
// (src/engine/webgpu/device.ts) uses `navigator.gpu` when present, and so does tfjs-backend-webgpu,
// so both engines get their adapters from the same Dawn instance. Timestamp quantisation is turned
// off so that the profiler's per-dispatch times are exact. The object must stay referenced for the
// life of the process (Dawn's instance lives as long as it does): it is kept here and on globalThis.
import { availableParallelism } from 'node:os';
import { prepareNodeGpuEnv } from '../src/engine/webgpu/device.js';

let gpu: GPU | null = null;

export async function installNodeGpu(): Promise<GPU> {
  if (gpu) return gpu;
  const g = globalThis as { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return (gpu = g.navigator.gpu);
  prepareNodeGpuEnv(process.env, availableParallelism());
  const mod = await import('webgpu') as unknown as { create: (flags: string[]) => GPU; globals: object };
  Object.assign(globalThis, mod.globals);
  gpu = mod.create(['disable-dawn-features=timestamp_quantization']);
  // Node 20 has no `navigator`; Node >= 21 has one whose properties are getters, so define ours.
  Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu }, configurable: true, writable: true });
  return gpu;
}
