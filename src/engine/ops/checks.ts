// Cheap numeric health checks for training loops: one small reduction per tensor, one read.
import type { Tensor } from '../tensor.js';

/** Number of NaN/Inf values in each tensor (all on one backend), with a single device read. */
export async function nonFiniteCounts(ts: Tensor[]): Promise<number[]> {
  if (ts.length === 0) return [];
  const be = ts[0].backend;
  const out = be.alloc(ts.length);
  try {
    ts.forEach((t, i) => be.nonFiniteCount(t.storage, out, i, t.size));
    return Array.from(await be.read(out, ts.length));
  } finally {
    be.release(out);
  }
}

/** Throw a clear error naming the first tensor that holds NaN or Inf. */
export async function assertFinite(ts: Tensor[], where: string): Promise<void> {
  const counts = await nonFiniteCounts(ts);
  const bad = counts.findIndex((c) => c > 0);
  if (bad >= 0) {
    const t = ts[bad];
    throw new Error(`${where}: ${counts[bad]} NaN/Inf values in ${t.name ?? 'tensor #' + t.id} [${t.shape.join(', ')}]` +
      ' (lower the learning rate or enable gradient clipping)');
  }
}
