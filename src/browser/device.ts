// Opening a device in a page or a worker: WebGPU on navigator.gpu (present in dedicated workers too),
// else the CPU reference backend, with a note saying why.
import type { Backend } from '../engine/backend.js';
import { CpuBackend } from '../engine/cpu/cpu-backend.js';
import { WebGpuBackend, type WebGpuBackendOptions } from '../engine/webgpu/webgpu-backend.js';
import { requestAdapter } from '../engine/webgpu/device.js';
import { NO_ADAPTER_NOTICE } from '../engine/select-backend.js';
import { adapterReport, type AdapterReport } from '../selftest/adapter.js';

export interface OpenedDevice {
  backend: Backend;
  /** the WebGPU adapter as it reported itself; null on the CPU backend */
  adapter: AdapterReport | null;
  /** one line naming the device, e.g. "WebGPU: google / swiftshader / ..." or "CPU reference backend" */
  name: string;
  /** true when WebGPU was wanted but the CPU backend is used instead */
  fellBack: boolean;
  /** why it fell back (show it on the page); null when it did not */
  note: string | null;
}

export interface OpenDeviceOptions extends WebGpuBackendOptions {
  /** 'auto' (default): WebGPU when an adapter exists, else the CPU backend; 'webgpu' throws without one */
  kind?: 'auto' | 'webgpu' | 'cpu';
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
  if (!(await requestAdapter(o))) return cpu(NO_ADAPTER_NOTICE);
  try {
    const backend = await WebGpuBackend.create(o);
    return { backend, adapter: adapterReport(backend), name: backend.description, fellBack: false, note: null };
  } catch (e) {
    return cpu(`the WebGPU adapter could not give a device (${(e as Error).message}); using the CPU backend (slow).`);
  }
}
