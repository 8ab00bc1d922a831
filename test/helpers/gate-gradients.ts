// What the hardware-loss tests (expected FLOPs, expected latency) share: comparing the α gradient of
// a regularised binary-gate step with the plain step's gradient plus the regulariser's own share.

import * as assert from 'uvu/assert';

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
