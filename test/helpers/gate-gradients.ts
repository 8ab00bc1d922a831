// What the hardware-loss tests (expected FLOPs, expected latency) share: a small ProxylessNAS method on
// the MobileNet space, and comparing the α gradient of a regularised binary-gate step with the plain
// step's gradient plus the regulariser's own share.

import * as assert from 'uvu/assert';
import type { Backend } from '../../src/engine/backend.js';
import { Tensor } from '../../src/engine/index.js';
import { createBaseMethod, Proxyless } from '../../src/search/index.js';
import type { BaseMethodHyper } from '../../src/search/presets.js';
import type { SearchSpace, SpaceSizes } from '../../src/spaces/space.js';
import { scaledValues } from '../search/nb201-recipe.js';

/**
 * For every block of a rows × cols α matrix: blocks the replayed binary-gate draw left out
 * (`involved[d] === null`) must carry no gradient at all (the reference drops their grad, the
 * regulariser's share included); the others must equal `expected(d, j, k)` (k = d·cols + j) to 1e-6 +
 * 1e-4 relative. Returns how many blocks had a gradient, so a caller can insist the check was not empty.
 */
export function checkGateGradient(rows: number, cols: number, involved: ReadonlyArray<unknown>,
  got: ArrayLike<number>, expected: (d: number, j: number, k: number) => number): number {
  let withGrad = 0;
  for (let d = 0; d < rows; d++) {
    const has = involved[d] !== null;
    for (let j = 0; j < cols; j++) {
      const k = d * cols + j;
      const want = has ? expected(d, j, k) : 0;
      assert.ok(Math.abs(got[k] - want) < 1e-6 + 1e-4 * Math.abs(want), `block ${d} op ${j}: ${got[k]} vs ${want}`);
    }
    if (has) withGrad++;
  }
  return withGrad;
}

/**
 * The small ProxylessNAS method both hardware-loss tests build on the MobileNet space: `make(seed,
 * hyper)` a binary-gate method over `sizes` at res×res, `batch(seed)` four deterministic images with
 * labels 0 1 2 1.
 */
export function proxylessFixture(be: Backend, space: SearchSpace, sizes: SpaceSizes, res: number) {
  const make = (seed: number, hyper: Partial<BaseMethodHyper> = {}): Proxyless => createBaseMethod('proxyless', {
    backend: be, space, sizes, imageShape: [1, res, res], seed, hyper: { ...space.methodHyper!('proxyless'), ...hyper },
  }) as Proxyless;
  const batch = (seed: string) => ({
    x: Tensor.fromArray(be, scaledValues(seed, 4 * res * res, 2), [4, 1, res, res]), y: Tensor.fromArray(be, [0, 1, 2, 1], [4]), n: 4,
  });
  return { make, batch };
}
