// Profiler entries (one per pipeline, labels `name{variant}`) summed by kernel family — the label
// without its variant — and sorted by device time, largest first; with the total device time. Shared by
// the step and GM-pass profilers.
import type { ProfileEntry } from '../src/engine/webgpu/runtime.js';

export interface KernelFamilies {
  families: [string, { count: number; ns: number }][];
  deviceMs: number;
}

export function kernelFamilies(entries: readonly ProfileEntry[]): KernelFamilies {
  const family = new Map<string, { count: number; ns: number }>();
  for (const e of entries) {
    const k = e.label.replace(/\{.*\}$/, '');
    const f = family.get(k) ?? { count: 0, ns: 0 };
    f.count += e.count; f.ns += e.ns;
    family.set(k, f);
  }
  return {
    families: [...family.entries()].sort((a, b) => b[1].ns - a[1].ns),
    deviceMs: entries.reduce((s, e) => s + e.ns, 0) / 1e6,
  };
}
