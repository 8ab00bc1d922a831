// Convolution launches held back so that two of them can run as one (the PAIR variants of
// shaders/conv2d.wgsl and conv2d_weight_grad.wgsl; kernels/conv.ts builds the launches).
//
// Why: an NB201 edge runs conv_3x3 and conv_1x1 on the same relu(x), so its forward is two
// implicit-GEMM launches over one input, its backward two input gradients into the same dx and two
// weight gradients over the same x. A 1x1 convolution's output at a position is its weights times
// the input at that very position — the centre of the 3x3 window the other kernel already loads —
// so each pair is one launch: 3 launches fewer per edge and step, and dx written once.
//
// How: a pairable launch is held back (GpuRuntime.defer, family order 0: it runs before the BN
// statistics and split-K sums that read its outputs) until something touches what it touches; the
// forward's two convolutions come one after the other, and in the backward the autograd runs an
// edge's two fused ops one after the other (input gradient, weight gradient, input gradient, weight
// gradient), so the partner arrives while the first is held. At the flush, items pair in order with
// the first later item they pair with, if nothing held between them conflicts with it; the rest run
// alone, in the order they came. Held items never conflict with other families' held items (those
// are flushed first) and keep their order among themselves, so results are those of launching at
// once (up to float summation order where two input gradients are summed in one pass).
import type { DeferredFamily, GpuRuntime, GpuStorage } from '../runtime.js';
import { switches } from '../../switches.js';

/** A convolution launch that may pair with a later one of its kind. */
export interface PairableLaunch {
  readonly kind: 'forward' | 'inputGrad' | 'weightGrad';
  readonly reads: readonly GpuStorage[];
  readonly writes: readonly GpuStorage[];
  /** what a partner needs to know (its shape is the kind's, known to the module that made it) */
  readonly side: unknown;
  /** encode it alone */
  run(): void;
  /** a runner that encodes this launch and `later` as one, or null when they do not pair */
  pairWith(later: PairableLaunch): (() => void) | null;
}

const pairs: DeferredFamily<PairableLaunch> = { name: 'convolution pairs', order: 0, run: runHeld };

/** Hold `launch` back for a partner (or run it at once when pairing is off). */
export function launchPairable(rt: GpuRuntime, launch: PairableLaunch): void {
  if (!switches.convPairs) { launch.run(); return; }
  const touches = [...launch.reads, ...launch.writes];
  // other families' held launches (BN statistics, split-K sums) must not be reordered around it
  if (rt.touchesOtherDeferred(pairs as DeferredFamily<unknown>, touches)) rt.flushDeferred();
  rt.defer(pairs, launch, touches);
}

/** Whether running `b` before `a` could change a result (they share a buffer one of them writes). */
function conflicts(a: PairableLaunch, b: PairableLaunch): boolean {
  const hits = (xs: readonly GpuStorage[], ys: readonly GpuStorage[]): boolean => xs.some((x) => ys.includes(x));
  return hits(a.writes, b.reads) || hits(a.writes, b.writes) || hits(a.reads, b.writes);
}

function runHeld(_rt: GpuRuntime, items: PairableLaunch[]): void {
  const done = new Array<boolean>(items.length).fill(false);
  for (let i = 0; i < items.length; i++) {
    if (done[i]) continue;
    let runner: (() => void) | null = null;
    for (let j = i + 1; j < items.length && !runner; j++) {
      if (done[j] || items[j].kind !== items[i].kind) continue;
      const pair = items[i].pairWith(items[j]);
      // the two must be independent (input gradients excepted: they add into one dx by design, and
      // conv2dInputGrad's checks keep that dx out of their other operands), and j moves up to i's
      // place: nothing held in between may conflict with it
      const independent = items[i].kind === 'inputGrad' || !conflicts(items[i], items[j]);
      if (pair && independent && !items.slice(i + 1, j).some((k, o) => !done[i + 1 + o] && conflicts(k, items[j]))) {
        runner = pair;
        done[j] = true;
      }
    }
    done[i] = true;
    (runner ?? items[i].run)();
  }
}
