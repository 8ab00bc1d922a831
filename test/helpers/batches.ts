// Host batch streams for the base-method tests: 3×8×8 images, 4 classes.
import { Rng } from '../../src/data/rng.js';
import type { BatchSource, HostBatch } from '../../src/search/index.js';

/** A deterministic stream of learnable random batches (a class-dependent mean on every pixel): the
 *  same seed gives the same batches. */
export function learnableSource(seed: number, n = 8): BatchSource {
  const r = new Rng(seed);
  return {
    next(): HostBatch {
      const y = new Float32Array(n).map(() => r.int(4));
      const x = new Float32Array(n * 3 * 64).map((_, i) => r.normal() + 0.5 * y[Math.floor(i / 192)]);
      return { x, y, n };
    },
  };
}
