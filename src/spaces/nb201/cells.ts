// The modules both NB201 networks are built from, with AutoDL-Projects' structure and PyTorch
// state_dict names (spec §1.2–1.3; `ADL:xautodl/models/cell_operations.py`, `cell_infers/tiny_network.py`):
//   ReLUConvBN        op.0 ReLU, op.1 Conv2d (no bias), op.2 BatchNorm2d
//   ResNetBasicblock  conv_a, conv_b (ReLUConvBN), downsample = Sequential(AvgPool2d(2,2), Conv2d 1×1)
//   the stem          Sequential(Conv2d 3×3 no bias, BatchNorm2d)
//   the head          lastact = Sequential(BatchNorm2d, ReLU), global average pool, classifier Linear
// and the five candidate operations of an NB201 edge. Parameter-free ops ('none', 'skip_connect',
// 'avg_pool_3x3') are modules without tensors, so module indices (e.g. InferCell's `layers.{i}`) match
// PyTorch's, where Zero, Identity and POOLING are modules too.
//
// Convolutions never have a bias here. ADL writes `bias=not affine`, which is False in every network it
// trains (affine BN); GM's search cells are non-affine yet bias-free, which is what the supernet
// parameter count 1,686,106 of spec §1.3 requires.
import {
  Tensor, Module, Conv2d, BatchNorm2d, Linear, Sequential, Lambda, relu, avgPool2d, globalAvgPool, add,
} from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';
import { NB201_OPS, OP_NONE, OP_SKIP, OP_CONV_1X1, OP_CONV_3X3, OP_AVG_POOL } from './ops.js';

/** How a network's BatchNorm layers behave (PyTorch's BatchNorm2d flags). */
export interface BnFlags {
  affine: boolean;
  trackRunningStats: boolean;
}

/** ReLU → Conv2d(k, stride, pad, no bias) → BatchNorm2d, children `op.0`, `op.1`, `op.2`. */
export class ReLUConvBN extends Module {
  readonly op: Sequential;
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number, kernel: number, stride: number, padding: number, bn: BnFlags) {
    super();
    this.conv = new Conv2d(be, rng, cin, cout, kernel, { stride, padding });
    this.bn = new BatchNorm2d(be, cout, { affine: bn.affine, trackRunningStats: bn.trackRunningStats });
    this.op = this.child('op', new Sequential(new Lambda(relu, 'ReLU'), this.conv, this.bn));
  }
  forward(x: Tensor): Tensor { return this.op.forward(x); }
}

/** AvgPool2d(3, stride 1, pad 1, count_include_pad=False): NB201's `avg_pool_3x3` (no preprocess
 *  conv, since C_in == C_out in every NB201 cell). */
export function avgPool3x3(x: Tensor): Tensor {
  return avgPool2d(x, { kernel: 3, stride: 1, padding: 1, countIncludePad: false });
}

const identity = (x: Tensor): Tensor => x;
/** Only for completeness of the module tree: 'none' ops are never called (callers skip them, which
 *  is exact: their output is zero). */
const zeroOpGuard = (): Tensor => {
  throw new Error("internal: the 'none' op must be skipped by its cell, not run");
};

/** One candidate operation of a C→C, stride-1 NB201 edge. Conv ops are ReLUConvBN; the others are
 *  parameter-free modules. */
export function makeCellOp(be: Backend, rng: EngineRng, op: number, channels: number, bn: BnFlags): Forward {
  switch (op) {
    case OP_NONE: return new Lambda(zeroOpGuard, 'Zero');
    case OP_SKIP: return new Lambda(identity, 'Identity');
    case OP_CONV_1X1: return new ReLUConvBN(be, rng, channels, channels, 1, 1, 0, bn);
    case OP_CONV_3X3: return new ReLUConvBN(be, rng, channels, channels, 3, 1, 1, bn);
    case OP_AVG_POOL: return new Lambda(avgPool3x3, 'POOLING');
    default: throw new Error(`makeCellOp: op index ${op} is not one of ${NB201_OPS.map((n, i) => `${i} ${n}`).join(', ')}`);
  }
}

/** The residual reduction block between stages (stride 2, channels doubled): conv_a, conv_b and a
 *  shortcut `downsample` = AvgPool2d(2, 2) → Conv2d 1×1 (no BN, no ReLU). BN is affine and tracks
 *  running statistics in search and evaluation alike. */
export class ResNetBasicblock extends Module {
  readonly convA: ReLUConvBN;
  readonly convB: ReLUConvBN;
  readonly downsample: Sequential;
  readonly outChannels: number;
  constructor(be: Backend, rng: EngineRng, cin: number, cout: number) {
    super();
    const bn: BnFlags = { affine: true, trackRunningStats: true };
    this.convA = this.child('conv_a', new ReLUConvBN(be, rng, cin, cout, 3, 2, 1, bn));
    this.convB = this.child('conv_b', new ReLUConvBN(be, rng, cout, cout, 3, 1, 1, bn));
    this.downsample = this.child('downsample', new Sequential(
      new Lambda((x) => avgPool2d(x, { kernel: 2, stride: 2, padding: 0 }), 'AvgPool2d'),
      new Conv2d(be, rng, cin, cout, 1, { stride: 1, padding: 0 }),
    ));
    this.outChannels = cout;
  }
  forward(x: Tensor): Tensor {
    return add(this.convB.forward(this.convA.forward(x)), this.downsample.forward(x));
  }
}

/** Stage layout of the macro skeleton: N cells of C, a reduction to 2C, N cells of 2C, a reduction
 *  to 4C, N cells of 4C. Entry k is the channel count of cells.{k} and whether it is a reduction. */
export function macroLayout(C: number, N: number): { channels: number; reduction: boolean }[] {
  const out: { channels: number; reduction: boolean }[] = [];
  for (let i = 0; i < N; i++) out.push({ channels: C, reduction: false });
  out.push({ channels: 2 * C, reduction: true });
  for (let i = 0; i < N; i++) out.push({ channels: 2 * C, reduction: false });
  out.push({ channels: 4 * C, reduction: true });
  for (let i = 0; i < N; i++) out.push({ channels: 4 * C, reduction: false });
  return out;
}

/** The stem: Conv2d(inputChannels → C, 3×3, pad 1, no bias) → BatchNorm2d(C). No ReLU. */
export function makeStem(be: Backend, rng: EngineRng, inputChannels: number, C: number): Sequential {
  return new Sequential(new Conv2d(be, rng, inputChannels, C, 3, { padding: 1 }), new BatchNorm2d(be, C));
}

/** lastact: BatchNorm2d(C) → ReLU. */
export function makeLastAct(be: Backend, C: number): Sequential {
  return new Sequential(new BatchNorm2d(be, C), new Lambda(relu, 'ReLU'));
}

/** lastact → global average pool → classifier. */
export function headForward(lastact: Sequential, classifier: Linear, x: Tensor): Tensor {
  return classifier.forward(globalAvgPool(lastact.forward(x)));
}

export { ModuleContainer } from '../../engine/index.js';

/** Throws unless x is [N, inputChannels, H, W] with H and W divisible by 4: each reduction block adds
 *  a stride-2 conv path (⌈H/2⌉) and an AvgPool2d(2) path (⌊H/2⌋), which agree only for even sizes. */
export function checkNetworkInput(what: string, x: Tensor, inputChannels: number): void {
  if (x.rank !== 4 || x.shape[1] !== inputChannels) {
    throw new Error(`${what}: input [${x.shape.join(', ')}] must be [N, ${inputChannels}, H, W]`);
  }
  if (x.shape[2] % 4 !== 0 || x.shape[3] % 4 !== 0) {
    throw new Error(`${what}: input ${x.shape[2]}×${x.shape[3]} must have H and W divisible by 4 (two stride-2 reduction blocks)`);
  }
}

/** Checks shared by both network configs; `what` names the caller. */
export function checkMacroConfig(what: string, c: { C: number; N: number; inputChannels: number; numClasses: number }): void {
  for (const [k, v] of Object.entries({ C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses })) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${k} must be a positive integer, got ${v}`);
  }
}

export { batchNormsByPath } from '../../engine/index.js';
