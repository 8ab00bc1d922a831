// Opening a device in a page or a worker: WebGPU on navigator.gpu (present in dedicated workers too),
// else the wasm backend (Wasm SIMD kernels: in a dedicated worker of a cross-origin isolated page on
// kernel Web Workers, one per core; in the page itself on one thread, which may not block), else the
// CPU reference backend — with a note saying why. The backend's description names its thread count.
import type { Backend } from '../engine/backend.js';
import { CpuBackend } from '../engine/cpu/cpu-backend.js';
import { WebGpuBackend, type WebGpuBackendOptions } from '../engine/webgpu/webgpu-backend.js';
import { WasmBackend } from '../engine/wasm/wasm-backend.js';
import { requestAdapter } from '../engine/webgpu/device.js';
import { adapterReport, type AdapterReport } from '../selftest/adapter.js';

export interface OpenedDevice {
  backend: Backend;
  /** the WebGPU adapter as it reported itself; null on the wasm and CPU backends */
  adapter: AdapterReport | null;
  /** one line naming the device, e.g. "WebGPU: google / swiftshader / ..." or "CPU reference backend" */
  name: string;
  /** true when WebGPU was wanted but the wasm or CPU backend is used instead */
  fellBack: boolean;
  /** why it fell back (show it on the page); null when it did not */
  note: string | null;
}

export interface OpenDeviceOptions extends WebGpuBackendOptions {
  /** 'auto' (default): WebGPU when an adapter exists, else the wasm backend, else the CPU backend;
   *  'webgpu' and 'wasm' throw when they cannot run */
  kind?: 'auto' | 'webgpu' | 'wasm' | 'cpu';
}

/**
 * A backend for the page. Unlike `createBackend('auto')` this also falls back when an adapter exists
 * but the device cannot be created (blocklisted drivers, lost devices), and says why in `note`.
 */
export async function openDevice(o: OpenDeviceOptions = {}): Promise<OpenedDevice> {
  const kind = o.kind ?? 'auto';
  const cpu = (note: string | null): OpenedDevice => {
    const backend = new CpuBackend();
    return { backend, adapter: null, name: backend.description || 'CPU reference backend', fellBack: note !== null, note };
  };
  if (kind === 'cpu') return cpu(null);
  if (kind === 'webgpu') {
    const backend = await WebGpuBackend.create(o);
    return { backend, adapter: adapterReport(backend), name: backend.description, fellBack: false, note: null };
  }
  if (kind === 'wasm') return wasm(null);
  let why: string;
  if (!(await requestAdapter(o))) {
    why = typeof navigator === 'object' && (navigator as { gpu?: unknown }).gpu ? 'no WebGPU adapter found' : 'this browser has no WebGPU (navigator.gpu)';
  } else {
    try {
      const backend = await WebGpuBackend.create(o);
      return { backend, adapter: adapterReport(backend), name: backend.description, fellBack: false, note: null };
    } catch (e) {
      why = `the WebGPU adapter could not give a device (${(e as Error).message})`;
    }
  }
  try {
    return await wasm(why);
  } catch (e) {
    return cpu(`${why}, and the wasm backend cannot run here (${(e as Error).message}); using the CPU backend (slow).`);
  }
}

/** The wasm backend; `why` (null when asked for) becomes the note of a fallback from WebGPU. */
async function wasm(why: string | null): Promise<OpenedDevice> {
  const backend = await WasmBackend.create();
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  const note = why === null ? null : `${why}; using the wasm backend (${backend.description}` +
    `${isolated === false ? ': the page is not cross-origin isolated, so its memory is not shared' : ''}).`;
  return { backend, adapter: null, name: backend.description, fellBack: why !== null, note };
}
