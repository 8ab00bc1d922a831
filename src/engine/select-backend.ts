// Choosing the compute backend. 'auto' prefers, in order:
//   1. WebGPU on a real GPU adapter;
//   2. the wasm backend (Wasm SIMD kernels on worker threads) — see README "Choosing a device" for the
//      measurement behind putting it before a software rasteriser;
//   3. WebGPU on a software adapter (Mesa lavapipe, SwiftShader, WARP: the adapter says it is a
//      fallback or names a CPU rasteriser), when the engine lacks Wasm SIMD;
//   4. the CPU reference backend, with one notice line.
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/cpu-backend.js';
import { describeAdapter, requestAdapter } from './webgpu/device.js';
import { WebGpuBackend, type WebGpuBackendOptions } from './webgpu/webgpu-backend.js';
import { WasmBackend } from './wasm/wasm-backend.js';

export type BackendKind = 'auto' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_KINDS: readonly BackendKind[] = ['auto', 'webgpu', 'wasm', 'cpu'];

export interface CreateBackendOptions extends WebGpuBackendOptions {
  /** Where the one-line notice goes when 'auto' falls back (default console.warn). */
  log?: (msg: string) => void;
  /** wasm backend threads, the calling one included (default: the cores) */
  threads?: number;
}

export const NO_ADAPTER_NOTICE = 'no WebGPU adapter found; using the CPU backend (slow). On Linux without a GPU ' +
  "install Mesa >= 23 lavapipe (e.g. apt-get install mesa-vulkan-drivers; see README 'WebGPU without a GPU'); " +
  'in a browser, use one with WebGPU enabled.';

/** Whether an adapter is a CPU rasteriser rather than a GPU (the same test the WebGPU runtime uses). */
export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = describeAdapter(adapter);
  return info.isFallbackAdapter || /software|cpu|llvmpipe|lavapipe|swiftshader|warp/i.test(
    `${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/**
 * 'cpu': the CPU reference backend. 'webgpu': the WebGPU backend, or a GpuError saying why there is
 * none. 'wasm': the wasm backend, or an error naming what the engine lacks. 'auto': see the header.
 */
export async function createBackend(kind: BackendKind, opts: CreateBackendOptions = {}): Promise<Backend> {
  if (kind === 'cpu') return new CpuBackend();
  if (kind === 'webgpu') return WebGpuBackend.create(opts);
  if (kind === 'wasm') return WasmBackend.create({ threads: opts.threads });
  if (kind !== 'auto') throw new Error(`createBackend: unknown backend kind "${String(kind)}" (${BACKEND_KINDS.join(', ')})`);
  const adapter = await requestAdapter(opts);
  if (adapter && !isSoftwareAdapter(adapter)) return WebGpuBackend.create(opts);
  try {
    return await WasmBackend.create({ threads: opts.threads });
  } catch (err) {
    if (adapter) return WebGpuBackend.create(opts);
    (opts.log ?? ((m: string) => console.warn(m)))(`${NO_ADAPTER_NOTICE} The wasm backend is unavailable too: ${(err as Error).message}`);
    return new CpuBackend();
  }
}

/** One line for logs and result files: kind and device. */
export function describeBackend(b: Backend): string {
  return `${b.kind} (${b.description})`;
}
