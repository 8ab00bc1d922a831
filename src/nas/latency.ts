// Measured inference latency of a stand-alone network on the current backend (what deployers ask for
// next to parameters and multiply-adds): eval-mode forward passes of random inputs at a batch size, two
// untimed warm-up passes (kernel compilation, autotuning, allocation), then `repeats` timed passes each
// ending with a device sync; the median in milliseconds. Wall-clock, so a loaded machine inflates it:
// report the load with it. Browser-safe (performance.now).
import { Tensor, tidy, noGrad } from '../engine/index.js';
import type { Backend } from '../engine/index.js';
import type { SpaceNetwork } from '../spaces/space.js';

export interface LatencyRow { batch: number; medianMs: number; repeats: number }

/**
 * The median wall-clock milliseconds of `forward` on one fixed input of `shape` (deterministic values in
 * ±0.5): 2 untimed warm-ups, then `repeats` timed runs, each awaiting the device by reading the output
 * back. Shared by the whole-network rows below and the per-op latency table (latency-table.ts).
 */
export async function medianForwardMs(backend: Backend, shape: readonly number[], forward: (x: Tensor) => Tensor, repeats: number): Promise<number> {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = Tensor.fromArray(backend, Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898) * 0.5), [...shape]);
  const times: number[] = [];
  try {
    for (let r = 0; r < repeats + 2; r++) {
      const t0 = performance.now();
      const y = tidy(() => noGrad(() => forward(x)));
      await y.data(); // waits for the device and reads the output
      y.dispose();
      if (r >= 2) times.push(performance.now() - t0);
    }
  } finally {
    x.dispose();
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export async function measureLatency(backend: Backend, net: SpaceNetwork, imageShape: readonly number[], batches: readonly number[], repeats = 5): Promise<LatencyRow[]> {
  const wasTraining = net.training;
  net.eval();
  const rows: LatencyRow[] = [];
  try {
    for (const batch of batches) {
      rows.push({ batch, medianMs: await medianForwardMs(backend, [batch, ...imageShape], (x) => net.forward(x), repeats), repeats });
    }
  } finally {
    net.train(wasTraining);
  }
  return rows;
}
