// The DARTS CNN space's vocabulary and operations (spec §5.1; the DARTS repository's `operations.py`
// and `genotypes.py`, as DARTS-PT / GM use them):
//   - op sets: the original 8 ops with 'none' (DARTS_OPS) and GM's `s5` set of 7 (no 'none');
//   - a cell has 2 input nodes (the outputs of the two previous cells, after preprocessing) and
//     STEPS = 4 intermediate nodes; node i (0-based among the intermediates) sums one edge from each
//     of the i + 2 earlier states, so a cell has 2 + 3 + 4 + 5 = 14 edges; its output concatenates the
//     MULTIPLIER = 4 intermediate nodes;
//   - op modules with PyTorch's child names, so state dicts carry the reference's keys:
//     sep_conv → SepConv `op.{1,2,3,5,6,7}`, dil_conv → DilConv `op.{1,2,3}`, skip at stride 2 →
//     FactorizedReduce `conv_1`, `conv_2`, `bn`, preprocessing → ReLUConvBN `op.{1,2}`.
// Browser-safe: no node: imports.
import {
  Tensor, Module, Sequential, Lambda, Conv2d, BatchNorm2d, relu, conv2d, concatChannels, linear, avgPool2d, maxPool2d,
} from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';

/** The DARTS repository's PRIMITIVES, in its order (α column order of the 8-op space). */
export const DARTS_OPS = [
  'none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5',
] as const;
/** GM's `s5` set (`spaces.py:80-99`): the same ops without 'none', in the same order. */
export const DARTS_S5_OPS = DARTS_OPS.filter((o) => o !== 'none');
export type DartsOpName = (typeof DARTS_OPS)[number];

/** Intermediate nodes per cell. */
export const STEPS = 4;
/** Intermediate nodes concatenated into the cell output. */
export const MULTIPLIER = 4;
/** Edges per cell: Σ_{i<STEPS} (i + 2). */
export const EDGES_PER_CELL = 14;

export interface DartsEdge {
  /** index within the cell (0..13), the reference's `offset + j` */
  readonly index: number;
  /** intermediate node 0..3 (state 2 + node) */
  readonly node: number;
  /** input state 0..node+1 (0, 1: the preprocessed cell inputs) */
  readonly from: number;
}

/** The 14 edges in the reference's order: node 0 from states 0, 1; node 1 from 0, 1, 2; … */
export const CELL_EDGES: readonly DartsEdge[] = Object.freeze((() => {
  const out: DartsEdge[] = [];
  for (let node = 0; node < STEPS; node++) for (let from = 0; from < node + 2; from++) out.push(Object.freeze({ index: out.length, node, from }));
  return out;
})());

/** True for the ops whose module has parameters or BN in the eval network (not pool/skip/none). */
export function isConvOp(name: string): boolean {
  return name.startsWith('sep_conv') || name.startsWith('dil_conv');
}

// ---- modules --------------------------------------------------------------------------------------

export interface DartsBn { affine: boolean; trackRunningStats: boolean }

const reluLayer = (): Lambda => new Lambda(relu, 'ReLU');

/** ReLU → Conv2d(k, stride, padding, no bias) → BN: the cells' preprocessing (`ReLUConvBN`). */
export class ReLUConvBN extends Module implements Forward {
  readonly op: Sequential;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number, kernel: number, stride: number, padding: number, bn: DartsBn) {
    super();
    this.op = this.child('op', new Sequential(reluLayer(), new Conv2d(be, rng, cin, cout, kernel, { stride, padding }), new BatchNorm2d(be, cout, bn)));
  }
  forward(x: Tensor): Tensor { return this.op.forward(x); }
}

/** ReLU → depthwise conv (dilated) → 1×1 conv → BN (`DilConv`). */
export class DilConv extends Module implements Forward {
  readonly op: Sequential;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number, kernel: number, stride: number, padding: number, dilation: number, bn: DartsBn) {
    super();
    this.op = this.child('op', new Sequential(
      reluLayer(),
      new Conv2d(be, rng, cin, cin, kernel, { stride, padding, dilation, groups: cin }),
      new Conv2d(be, rng, cin, cout, 1),
      new BatchNorm2d(be, cout, bn),
    ));
  }
  forward(x: Tensor): Tensor { return this.op.forward(x); }
}

/** Two DilConv-like halves without dilation (`SepConv`): the first strided, C_in → C_in; the second C_in → C_out. */
export class SepConv extends Module implements Forward {
  readonly op: Sequential;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number, kernel: number, stride: number, padding: number, bn: DartsBn) {
    super();
    this.op = this.child('op', new Sequential(
      reluLayer(),
      new Conv2d(be, rng, cin, cin, kernel, { stride, padding, groups: cin }),
      new Conv2d(be, rng, cin, cin, 1),
      new BatchNorm2d(be, cin, bn),
      reluLayer(),
      new Conv2d(be, rng, cin, cin, kernel, { stride: 1, padding, groups: cin }),
      new Conv2d(be, rng, cin, cout, 1),
      new BatchNorm2d(be, cout, bn),
    ));
  }
  forward(x: Tensor): Tensor { return this.op.forward(x); }
}

/** The 2×2 kernel [[0, 0], [0, 1]]: a stride-2 convolution with it reads x[2i+1, 2j+1]. */
const SHIFT_TAP = new Float32Array([0, 0, 0, 1]);

/**
 * ReLU, then two 1×1 stride-2 convs, one on x and one on x shifted by one pixel (x[:, :, 1:, 1:]),
 * concatenated on channels, then BN (`FactorizedReduce`; C_out must be even). The shifted half runs
 * as a stride-2 conv whose 2×2 kernel is the 1×1 weight placed at the bottom-right tap (built on the
 * device, so the weight's gradient is the 1×1 conv's): same values, no slicing kernel needed, and for
 * even H, W the same output size ⌊(H − 2)/2⌋ + 1 = H/2 as the reference's ⌊(H − 2)/2⌋ + 1.
 */
export class FactorizedReduce extends Module implements Forward {
  readonly conv_1: Conv2d;
  readonly conv_2: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number, bn: DartsBn) {
    super();
    if (cout % 2) throw new Error(`FactorizedReduce: output channels ${cout} must be even`);
    this.conv_1 = this.child('conv_1', new Conv2d(be, rng, cin, cout / 2, 1, { stride: 2 }));
    this.conv_2 = this.child('conv_2', new Conv2d(be, rng, cin, cout / 2, 1, { stride: 2 }));
    this.bn = this.child('bn', new BatchNorm2d(be, cout, bn));
  }
  forward(x: Tensor): Tensor {
    const [, , H, W] = x.shape;
    if (H % 2 || W % 2) throw new Error(`FactorizedReduce: input ${H}×${W} must have even height and width`);
    const h = relu(x);
    const a = conv2d(h, this.conv_1.weight, null, { stride: 2 });
    const w = this.conv_2.weight;
    const [co, ci] = w.shape;
    // [co·ci, 1] @ [1, 4]ᵀ… as linear: rows of w times the tap vector → [co·ci, 4] → [co, ci, 2, 2]
    const tap = Tensor.fromArray(x.backend, SHIFT_TAP, [4, 1]);
    const w2 = linear(w.reshape([co * ci, 1]), tap, null).reshape([co, ci, 2, 2]);
    tap.dispose();
    const b = conv2d(h, w2, null, { stride: 2 });
    return this.bn.forward(concatChannels([a, b]));
  }
}

/** Identity (skip_connect at stride 1). */
export class Identity extends Module implements Forward {
  forward(x: Tensor): Tensor { return x; }
}

/** A parameter-free pool (max, or avg without padded cells), stride 1 or 2, padding 1. */
export class Pool3x3 extends Module implements Forward {
  constructor(readonly kind: 'max' | 'avg', readonly stride: number) { super(); }
  forward(x: Tensor): Tensor {
    const o = { kernel: 3, stride: this.stride, padding: 1, countIncludePad: false };
    return this.kind === 'max' ? maxPool2d(x, o) : avgPool2d(x, o);
  }
}

/**
 * The module of op `name` on C channels at `stride` (the reference's OPS table). `none` has no
 * module (callers skip it: its output is exactly zero). In the supernet (`searchPoolBn`) a pool is
 * followed by a non-affine BN, as the reference's MixedOp wraps it: Sequential(pool, BN) → `.1.*`.
 */
export function makeDartsOp(be: Backend, rng: EngineRng, name: string, C: number, stride: number, bn: DartsBn, searchPoolBn = false): Forward | null {
  switch (name) {
    case 'none': return null;
    case 'max_pool_3x3':
    case 'avg_pool_3x3': {
      const pool = new Pool3x3(name === 'max_pool_3x3' ? 'max' : 'avg', stride);
      return searchPoolBn ? new Sequential(pool, new BatchNorm2d(be, C, { affine: false, trackRunningStats: bn.trackRunningStats })) : pool;
    }
    case 'skip_connect': return stride === 1 ? new Identity() : new FactorizedReduce(be, rng, C, C, bn);
    case 'sep_conv_3x3': return new SepConv(be, rng, C, C, 3, stride, 1, bn);
    case 'sep_conv_5x5': return new SepConv(be, rng, C, C, 5, stride, 2, bn);
    case 'dil_conv_3x3': return new DilConv(be, rng, C, C, 3, stride, 2, 2, bn);
    case 'dil_conv_5x5': return new DilConv(be, rng, C, C, 5, stride, 4, 2, bn);
    default: throw new Error(`unknown DARTS op '${name}' (valid ops: ${DARTS_OPS.join(', ')})`);
  }
}
