// What the self-test says about the device: the adapter as it reported itself and the limits gmnas
// requested when it created the device (src/engine/webgpu/device.ts raises these to the adapter's
// values; the WebGPU defaults are lower).
import type { Backend } from '../engine/backend.js';
import type { WebGpuBackend } from '../engine/webgpu/webgpu-backend.js';
import { LIMITS_TO_RAISE } from '../engine/webgpu/device.js';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** whether the device was created with the `subgroups` feature, and the adapter's subgroup widths */
  subgroups: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** the device's values of the limits gmnas requested */
  limits: Record<string, number>;
}

/** The adapter behind a WebGPU backend; null for any other backend. */
export function adapterReport(be: Backend): AdapterReport | null {
  if (be.kind !== 'webgpu') return null;
  const rt = (be as WebGpuBackend).rt;
  if (!rt?.info) return null;
  const limits: Record<string, number> = {};
  const all = rt.limits as unknown as Record<string, number | undefined>;
  for (const name of LIMITS_TO_RAISE) if (typeof all[name] === 'number') limits[name] = all[name]!;
  const i = rt.info;
  return {
    vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
    isFallbackAdapter: i.isFallbackAdapter, subgroups: rt.hasSubgroups,
    subgroupMinSize: i.subgroupMinSize, subgroupMaxSize: i.subgroupMaxSize, limits,
  };
}

/** Bytes as "128 MiB" / "2 GiB" when exact, else the number. */
function size(v: number): string {
  for (const [u, b] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (v >= b && v % b === 0) return `${v / b} ${u}`;
  }
  return String(v);
}

/** A few lines for people: adapter identity, fallback or not, subgroups, requested limits. */
export function formatAdapterReport(a: AdapterReport): string[] {
  const bytes = new Set(['maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxUniformBufferBindingSize']);
  const lim = Object.entries(a.limits).map(([k, v]) => `${k}=${bytes.has(k) ? size(v) : v}`);
  return [
    `adapter: ${a.description}`,
    `  vendor '${a.vendor || '?'}', architecture '${a.architecture || '?'}', device '${a.device || '?'}', ` +
      `${a.isFallbackAdapter ? 'FALLBACK adapter' : 'not a fallback adapter'}, ` +
      (a.subgroups ? `subgroups ${a.subgroupMinSize}–${a.subgroupMaxSize} lanes` : 'no subgroups'),
    ...Array.from({ length: Math.ceil(lim.length / 4) }, (_, k) =>
      `  ${k === 0 ? 'limits requested:' : ' '.repeat(17)} ${lim.slice(4 * k, 4 * k + 4).join(' ')}`),
  ];
}
