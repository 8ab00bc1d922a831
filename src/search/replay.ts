// Replaying recorded training steps (issue [perf] item 3). A training step of an NB201 network is
// ~1.5k kernel launches whose host side — ops, autograd, cache lookups, bind-group and uniform
// handling — repeats identically while the shapes do. Backend.capture records the launches of one
// step; later steps write their batch into the recording's input tensors and re-encode the recorded
// list. The numbers are those of the ops (same kernels, same buffers, same order); what the
// recording cannot repeat is host-side state, which this class repeats itself: the metrics' image
// count and BN `num_batches_tracked` (by the deltas the recorded step made).
import { Tensor, keep, BatchNorm2d, type Module } from '../engine/index.js';
import type { Backend, StepCapture } from '../engine/index.js';
import type { MetricAccumulator } from './metrics.js';
import type { DeviceBatch } from './batch.js';
import { switches } from '../engine/switches.js';

export interface StepReplayerOptions {
  /** false: every step runs through the ops (so does switches.replay = false) */
  enabled: boolean;
  /** whose BN counters the step advances */
  module: Module;
  /** the accumulator the step adds its loss and accuracy to */
  metrics: MetricAccumulator;
}

/**
 * Runs `step(batch)` through the ops or as a replay. A step is recorded when the caller says it may
 * be (`mayRecord`: the optimizer's state exists — SGD creates its momentum buffers, with a different
 * update, on its first step), and stays valid until `reset()` — call it whenever something the
 * kernels bake in changes: the learning rate (every epoch), the op mask, the batch size (checked
 * here: a batch of another size runs through the ops). Only for steps whose host-side code does not
 * depend on data drawn per step (DARTS and stand-alone training qualify; SNAS, GDAS and RSPS draw
 * samples on the host, so they never replay).
 */
export class StepReplayer {
  private capture: StepCapture | null = null;
  private input: DeviceBatch | null = null;
  private counterDeltas: [BatchNorm2d, number][] = [];
  private readonly supported: boolean;
  /** replayed steps so far */
  replays = 0;

  constructor(private readonly be: Backend, private readonly step: (b: DeviceBatch) => void,
    private readonly o: StepReplayerOptions) {
    this.supported = o.enabled && switches.replay && typeof be.capture === 'function';
  }

  /** One training step on `batch` (the caller owns it; it is only copied from). */
  run(batch: DeviceBatch, mayRecord: boolean): void {
    if (this.capture && this.input!.n === batch.n) {
      this.copyIn(batch);
      this.capture.replay();
      this.o.metrics.countReplayed(batch.n);
      for (const [bn, d] of this.counterDeltas) bn.numBatchesTracked += d;
      this.replays++;
      return;
    }
    if (!this.supported || !mayRecord || this.capture) {
      this.step(batch);
      return;
    }
    if (!this.input || this.input.n !== batch.n) {
      this.disposeInput();
      this.input = {
        x: keep(Tensor.empty(this.be, batch.x.shape)), y: keep(Tensor.empty(this.be, batch.y.shape)), n: batch.n,
      };
    }
    this.copyIn(batch);
    const bns = this.o.module.namedModules().map(([, m]) => m).filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
    const before = bns.map((bn) => bn.numBatchesTracked);
    const input = this.input;
    this.capture = this.be.capture!(() => this.step(input)) ?? null;
    this.counterDeltas = bns.map((bn, i) => [bn, bn.numBatchesTracked - before[i]] as [BatchNorm2d, number]).filter(([, d]) => d !== 0);
  }

  /** Drop the recording; the next step allowed to record records again. */
  reset(): void {
    this.capture?.dispose();
    this.capture = null;
  }

  dispose(): void {
    this.reset();
    this.disposeInput();
  }

  private copyIn(batch: DeviceBatch): void {
    const inp = this.input!;
    if (batch.x.size !== inp.x.size || batch.y.size !== inp.y.size) {
      throw new Error(`StepReplayer: batch of shape ${batch.x.shape.join('×')} does not match the recorded ${inp.x.shape.join('×')}`);
    }
    this.be.copy(batch.x.storage, inp.x.storage, inp.x.size);
    this.be.copy(batch.y.storage, inp.y.storage, inp.y.size);
  }

  private disposeInput(): void {
    if (!this.input) return;
    this.input.x.dispose();
    this.input.y.dispose();
    this.input = null;
  }
}
