// A measured latency lookup table for ProxylessNAS's hardware loss (`--latency-target MS`, the
// reference's `--target_hardware` with its per-device lookup tables): every probe the space names
// (SearchSpace.latencyProbes: the fixed parts and each op of each decision at its input shape) is run
// on the current backend at batch 1, forward only, without gradients — 2 warm-up runs (first-use
// compilation, allocation), then `repeats` timed ones, the median kept, in milliseconds, the device's
// work awaited by reading the output back. The expected latency under α is then
//     E_lat(α) = fixed + Σ_d Σ_j softmax(α_d)_j · lat_dj
// (src/search/flops-loss.ts, the same code as the expected FLOPs). The table is measured once per run,
// kept in the run's configuration (state.json, result.json: a resumed run and every leaf worker use the
// same numbers) and shown in report.html. Wall-clock: machine load is in the numbers.
import type { Backend } from '../engine/index.js';
import { medianForwardMs } from './latency.js';
import type { SearchSpace, SpaceSizes, LatencyProbe } from '../spaces/registry.js';

export interface LatencyTable {
  unit: 'ms';
  batch: 1;
  repeats: number;
  /** the backend the numbers were measured on (describeBackend) */
  device: string;
  resolution: number;
  /** Σ of the fixed parts */
  fixed: number;
  fixedParts: { key: string; ms: number }[];
  /** [rows][cols]: ms, 0 for a no-op, null where the decision cannot take the column */
  ops: (number | null)[][];
  /** what each entry timed (the probe's key: op and shapes), null where no probe */
  keys: (string | null)[][];
}

/** Measure the space's latency table on `backend` (see the file comment). */
export async function measureLatencyTable(be: Backend, space: SearchSpace, sizes: SpaceSizes, resolution: number,
  o: { device: string; repeats?: number }): Promise<LatencyTable> {
  if (!space.latencyProbes) throw new Error(`--latency-target: the ${space.name} space has no latency probes (SearchSpace.latencyProbes)`);
  const repeats = o.repeats ?? 5;
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`latency table: repeats must be a positive integer, got ${repeats}`);
  const probes = space.latencyProbes(be, sizes, resolution);
  try {
    if (probes.ops.length !== space.rows || probes.ops.some((r) => r.length !== space.cols)) {
      throw new Error(`${space.name}: latencyProbes gave a ${probes.ops.length}-row table, expected [${space.rows}][${space.cols}]`);
    }
    const fixedParts: LatencyTable['fixedParts'] = [];
    for (const p of probes.fixed) fixedParts.push({ key: p.key, ms: await medianForwardMs(be, p.inputShape, (x) => p.run(x), repeats) });
    const ops: (number | null)[][] = [];
    const keys: (string | null)[][] = [];
    for (const row of probes.ops) {
      const r: (number | null)[] = [], k: (string | null)[] = [];
      for (const p of row) {
        if (p === null || p === 0) { r.push(p); k.push(null); continue; }
        r.push(await medianForwardMs(be, p.inputShape, (x) => p.run(x), repeats));
        k.push(p.key);
      }
      ops.push(r); keys.push(k);
    }
    return {
      unit: 'ms', batch: 1, repeats, device: o.device, resolution,
      fixed: fixedParts.reduce((s, p) => s + p.ms, 0), fixedParts, ops, keys,
    };
  } finally {
    probes.dispose();
  }
}

/** The table as the hardware loss reads it (src/search/flops-loss.ts expectedMacs): null → NaN (a
 *  column the decision cannot take; expectedMacs refuses it if it is ever enabled). */
export function latencyCosts(t: Pick<LatencyTable, 'fixed' | 'ops'>): { fixed: number; ops: number[][] } {
  return { fixed: t.fixed, ops: t.ops.map((r) => r.map((v) => (v === null ? NaN : v))) };
}
