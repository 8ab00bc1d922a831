// Choosing the compute backend: WebGPU when an adapter exists, else the CPU reference backend.
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';
import { requestAdapter } from './webgpu/device.js';
import { WebGpuBackend, type WebGpuBackendOptions } from './webgpu/webgpu-backend.js';

export type BackendKind = 'auto' | 'webgpu' | 'cpu';

export interface CreateBackendOptions extends WebGpuBackendOptions {
  /** Where the one-line notice goes when 'auto' falls back to the CPU (default console.warn). */
  log?: (msg: string) => void;
}

export const NO_ADAPTER_NOTICE = 'no WebGPU adapter found; using the CPU backend (slow). On Linux without a GPU ' +
  "install Mesa >= 23 lavapipe (e.g. apt-get install mesa-vulkan-drivers; see README 'WebGPU without a GPU'); " +
  'in a browser, use one with WebGPU enabled.';

/**
 * 'cpu': the CPU reference backend. 'webgpu': the WebGPU backend, or a GpuError saying why there is
 * none. 'auto': WebGPU when an adapter exists, else the CPU backend with one notice line.
 */
export async function createBackend(kind: BackendKind, opts: CreateBackendOptions = {}): Promise<Backend> {
  if (kind === 'cpu') return new CpuBackend();
  if (kind === 'webgpu') return WebGpuBackend.create(opts);
  if (kind !== 'auto') throw new Error(`createBackend: unknown backend kind "${String(kind)}" (auto, webgpu, cpu)`);
  const adapter = await requestAdapter(opts);
  if (!adapter) {
    (opts.log ?? ((m: string) => console.warn(m)))(NO_ADAPTER_NOTICE);
    return new CpuBackend();
  }
  return WebGpuBackend.create(opts);
}

/** One line for logs and result files: kind and device. */
export function describeBackend(b: Backend): string {
  return `${b.kind} (${b.description})`;
}
