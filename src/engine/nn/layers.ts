// The layers the search spaces are built from, with PyTorch's default initialisation
// (kaiming_uniform(a=√5) for weights ⇒ U(±1/√fan_in), same bound for biases; BN γ=1, β=0).
import { Tensor, keep } from '../tensor.js';
import type { Backend } from '../backend.js';
import type { Rng } from '../rng.js';
import { Module } from './module.js';
import { conv2d, reluConv2d } from '../ops/conv.js';
import { relu } from '../ops/elementwise.js';
import { reluConvBatchNorm } from '../ops/fused.js';
import type { Conv2dOptions } from '../ops/conv.js';
import { batchNorm } from '../ops/norm.js';
import { linear } from '../ops/dense.js';
import { switches } from '../switches.js';

export function uniformTensor(be: Backend, shape: number[], bound: number, rng: Rng): Tensor {
  const n = shape.reduce((p, d) => p * d, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.next() * 2 - 1) * bound;
  return keep(Tensor.fromArray(be, a, shape));
}

export interface Conv2dLayerOptions extends Conv2dOptions { bias?: boolean }

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(be: Backend, rng: Rng, readonly cin: number, readonly cout: number, readonly kernel: number,
    readonly opts: Conv2dLayerOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    if (cin % groups || cout % groups) throw new Error(`Conv2d(${cin}→${cout}): groups ${groups} must divide both channel counts`);
    const fanIn = (cin / groups) * kernel * kernel;
    const bound = 1 / Math.sqrt(fanIn);
    this.weight = this.param('weight', uniformTensor(be, [cout, cin / groups, kernel, kernel], bound, rng));
    this.bias = opts.bias ? this.param('bias', uniformTensor(be, [cout], bound, rng)) : null;
  }
  forward(x: Tensor): Tensor { return conv2d(x, this.weight, this.bias, this.opts); }
}

export interface BatchNormOptions { affine?: boolean; trackRunningStats?: boolean; eps?: number; momentum?: number }

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  /** PyTorch's num_batches_tracked (kept on the host; written to checkpoints as int64). */
  numBatchesTracked = 0;
  readonly eps: number;
  readonly momentum: number;
  /** While true, each training-mode batch enters the running statistics with weight 1/(batches since
   *  the last reset), so they become the plain mean of those batches' statistics (PyTorch's
   *  momentum=None): BN re-estimation (src/nas/bn-recalibrate.ts) switches it on. */
  cumulativeAverage = false;
  constructor(be: Backend, readonly channels: number, o: BatchNormOptions = {}) {
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    this.weight = affine ? this.param('weight', keep(Tensor.full(be, [channels], 1))) : null;
    this.bias = affine ? this.param('bias', keep(Tensor.zeros(be, [channels]))) : null;
    const track = o.trackRunningStats ?? true;
    this.runningMean = track ? this.buffer('running_mean', keep(Tensor.zeros(be, [channels]))) : null;
    this.runningVar = track ? this.buffer('running_var', keep(Tensor.full(be, [channels], 1))) : null;
  }
  forward(x: Tensor): Tensor {
    return batchNorm(x, {
      gamma: this.weight, beta: this.bias, runningMean: this.runningMean, runningVar: this.runningVar,
      training: this.training, eps: this.eps, momentum: this.forwardMomentum(),
    });
  }
  /** The momentum of one forward pass, fused or not (every one goes through here): in training mode
   *  with running statistics it counts the batch and returns the weight of its statistics in them. */
  forwardMomentum(): number {
    if (!this.training || !this.runningMean) return this.momentum;
    this.numBatchesTracked++;
    return this.cumulativeAverage ? 1 / this.numBatchesTracked : this.momentum;
  }
  /** Reset running statistics (BN recalibration before evaluating a sub-network). */
  resetRunningStats(): void {
    if (!this.runningMean || !this.runningVar) return;
    const be = this.runningMean.backend;
    be.fill(this.runningMean.storage, 0, this.channels);
    be.fill(this.runningVar.storage, 1, this.channels);
    this.numBatchesTracked = 0;
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(be: Backend, rng: Rng, readonly inFeatures: number, readonly outFeatures: number, withBias = true) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', uniformTensor(be, [outFeatures, inFeatures], bound, rng));
    this.bias = withBias ? this.param('bias', uniformTensor(be, [outFeatures], bound, rng)) : null;
  }
  forward(x: Tensor): Tensor { return linear(x, this.weight, this.bias); }
}

/** A module whose forward is a plain tensor function (ReLU, pooling) — keeps PyTorch index names. */
export class Lambda extends Module {
  constructor(readonly fn: (x: Tensor) => Tensor, readonly label: string) { super(); }
  forward(x: Tensor): Tensor { return this.fn(x); }
}

export interface Forward extends Module { forward(x: Tensor): Tensor }

/** Children named '0', '1', … as torch.nn.Sequential. A ReLU directly followed by a Conv2d runs as
 *  one fused op (reluConv2d), and ReLU → Conv2d (no bias) → BatchNorm2d using batch statistics as
 *  reluConvBatchNorm, whose output is deferred (ops/fused.ts): the intermediate outputs are internal
 *  to the sequence, so nothing else can observe that they are never stored; values and gradients
 *  are those of the separate layers. A Conv2d (no bias) → non-affine training BatchNorm2d that ends
 *  the sequence runs as reluConvBatchNorm without the ReLU. */
export class Sequential extends Module {
  readonly layers: Forward[];
  constructor(...layers: Forward[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.child(String(i), m));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    const ls = this.layers;
    for (let i = 0; i < ls.length; i++) {
      const m = ls[i], next = ls[i + 1];
      if (switches.fusion && m instanceof Lambda && m.fn === relu && next instanceof Conv2d) {
        const bn = ls[i + 2];
        if (!next.bias && bn instanceof BatchNorm2d && (bn.training || !bn.runningMean)) {
          // ReLU → conv → BN with batch statistics: one op whose output is deferred (ops/fused.ts)
          h = reluConvBatchNorm(h, next.weight, next.opts, {
            gamma: bn.weight, beta: bn.bias, runningMean: bn.training ? bn.runningMean : null,
            runningVar: bn.training ? bn.runningVar : null, eps: bn.eps, momentum: bn.forwardMomentum(),
          });
          i += 2;
        } else {
          h = reluConv2d(h, next.weight, next.bias, next.opts);
          i++;
        }
      } else if (switches.fusion && switches.convBnTail && m instanceof Conv2d && !m.bias && i === ls.length - 2 && next instanceof BatchNorm2d &&
        !next.weight && next.training) {
        // conv → non-affine BN with batch statistics ending the sequence (DARTS' sep/dil convs): the
        // same fused op without the ReLU, so a weighted sum that reads the output applies the BN on
        // the fly and runs its backward ahead (ops/fused.ts) instead of a BN launch, a scale launch
        // and a BN backward launch per op
        h = reluConvBatchNorm(h, m.weight, m.opts, {
          gamma: null, beta: null, runningMean: next.runningMean, runningVar: next.runningVar, eps: next.eps, momentum: next.forwardMomentum(),
        }, false);
        i++;
      } else {
        h = m.forward(h);
      }
    }
    return h;
  }
}
