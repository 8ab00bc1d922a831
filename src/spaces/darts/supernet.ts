// The DARTS search supernet (spec §5.1; the reference's model_search.py as DARTS-PT / GM use it):
//   stem: Conv2d(in, 3C, 3, pad 1) → BN(3C) (affine); then `layers` cells, reductions at layers//3
//   and 2·layers//3 (channels doubled there); each cell preprocesses its two inputs (FactorizedReduce
//   when the previous cell reduced, else ReLUConvBN 1×1; both non-affine), runs a mixed op on each of
//   its 14 edges (every op of the space; pools followed by a non-affine BN; stride 2 on the edges
//   from the cell inputs of a reduction cell) and concatenates its 4 intermediate nodes; head: global
//   average pool → Linear. Normal cells share the α rows 0..13, reduction cells rows 14..27.
//
// Samples (src/spaces/space.ts ArchSample) decide what runs, as in the NB201 supernet: only listed
// ops launch; 'none' is never run (its output is exactly zero); each node is one weightedSum over all
// its incoming edges' terms (or a plain sum without weights). State-dict names follow the reference:
//   stem.{0,1}.*, cells.{i}.preprocess{0,1}.op.{1,2}.* | .conv_1/.conv_2/.bn.*,
//   cells.{i}._ops.{edge}._ops.{op}.op.{k}.* (convs), cells.{i}._ops.{edge}._ops.{op}.1.* (pool BN),
//   classifier.{weight,bias}
import { Tensor, Module, Sequential, Conv2d, BatchNorm2d, Linear, weightedSum, addN, concatChannels, globalAvgPool, copyModuleState, ModuleContainer } from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';
import type { ArchSample, OpMask, SpaceSupernet, SupernetBuildOptions } from '../space.js';
import { CELL_EDGES, EDGES_PER_CELL, MULTIPLIER, STEPS, FactorizedReduce, ReLUConvBN, makeDartsOp, type DartsBn } from './ops.js';

export const STEM_MULTIPLIER = 3;

/** Reduction layers of an L-layer DARTS network (L//3 and 2L//3). */
export function reductionLayers(layers: number): [number, number] {
  return [Math.floor(layers / 3), Math.floor((2 * layers) / 3)];
}

export function checkDartsSizes(what: string, c: { C: number; N: number; inputChannels: number; numClasses: number }): void {
  for (const k of ['C', 'N', 'inputChannels', 'numClasses'] as const) {
    const v = c[k];
    if (!Number.isInteger(v) || v < 1) throw new Error(`${what}: ${k} must be a positive integer, got ${v}`);
  }
  if (c.N < 3) throw new Error(`${what}: N (cells) must be at least 3 (two reduction cells at N//3 and 2N//3), got ${c.N}`);
  if (c.C % 2) throw new Error(`${what}: C must be even (FactorizedReduce halves it), got ${c.C}`);
}

/** Throws unless x is [N, inputChannels, H, W] with H, W divisible by 4 (two stride-2 reductions of even sizes). */
export function checkDartsInput(what: string, x: Tensor, inputChannels: number): void {
  if (x.rank !== 4 || x.shape[1] !== inputChannels) throw new Error(`${what}: input must be [N, ${inputChannels}, H, W], got [${x.shape.join(', ')}]`);
  if (x.shape[2] % 4 || x.shape[3] % 4) throw new Error(`${what}: image height and width must be multiples of 4, got ${x.shape[2]}×${x.shape[3]}`);
}

/** One edge's ops, by column (null: 'none' or absent). */
class MixedOp extends Module {
  readonly ops: (Forward | null)[] = [];
  constructor(be: Backend, rng: EngineRng, opNames: readonly string[], C: number, stride: number, bn: DartsBn) {
    super();
    const list = this.child('_ops', new ModuleContainer<Forward>());
    opNames.forEach((name, k) => {
      const op = makeDartsOp(be, rng, name, C, stride, bn, true);
      this.ops.push(op ? list.add(String(k), op) : null);
    });
  }
}

export class DartsSearchCell extends Module {
  readonly preprocess0: Forward;
  readonly preprocess1: ReLUConvBN;
  readonly mixed: MixedOp[] = [];
  constructor(be: Backend, rng: EngineRng, opNames: readonly string[], Cpp: number, Cp: number, readonly C: number,
    readonly reduction: boolean, reductionPrev: boolean, bn: DartsBn) {
    super();
    const pre: DartsBn = { affine: false, trackRunningStats: bn.trackRunningStats };
    this.preprocess0 = this.child('preprocess0', reductionPrev ? new FactorizedReduce(be, rng, Cpp, C, pre) : new ReLUConvBN(be, rng, Cpp, C, 1, 1, 0, pre));
    this.preprocess1 = this.child('preprocess1', new ReLUConvBN(be, rng, Cp, C, 1, 1, 0, pre));
    const list = this.child('_ops', new ModuleContainer<MixedOp>());
    for (const e of CELL_EDGES) {
      const stride = reduction && e.from < 2 ? 2 : 1;
      this.mixed.push(list.add(String(e.index), new MixedOp(be, rng, opNames, C, stride, bn)));
    }
  }

  /** `rowOffset`: this cell's first α row (0 normal, 14 reduce); `cols`: α columns. */
  forward(s0: Tensor, s1: Tensor, sample: ArchSample, rowOffset: number, cols: number): Tensor {
    const states: Tensor[] = [this.preprocess0.forward(s0), this.preprocess1.forward(s1)];
    const [N, , H, W] = states[1]!.shape;
    const outShape = this.reduction ? [N!, this.C, H! / 2, W! / 2] : [N!, this.C, H!, W!];
    let ones: Tensor | null = null;
    let at = 0;
    for (let node = 0; node < STEPS; node++) {
      const terms: Tensor[] = [];
      const index: number[] = [];
      for (let from = 0; from < node + 2; from++, at++) {
        const e = CELL_EDGES[at]!;
        const row = rowOffset + e.index;
        const input = states[from]!;
        for (const o of sample.ops[row]!) {
          const op = this.mixed[e.index]!.ops[o];
          if (!op) continue; // 'none': exactly zero
          terms.push(op.forward(input));
          index.push(row * cols + o);
        }
        for (const o of sample.weightOnly?.[row] ?? []) {
          ones ??= Tensor.full(s1.backend, outShape, 1);
          terms.push(ones);
          index.push(row * cols + o);
        }
      }
      if (terms.length === 0) states.push(Tensor.zeros(s1.backend, outShape));
      else if (sample.weights) states.push(weightedSum(terms, sample.weights, index));
      else states.push(addN(terms));
    }
    return concatChannels(states.slice(-MULTIPLIER));
  }
}

export interface DartsSupernetConfig extends SupernetBuildOptions {
  /** op names by α column (the space's op set) */
  ops: readonly string[];
}

export class DartsSupernet extends Module implements SpaceSupernet {
  readonly config: Readonly<Required<SupernetBuildOptions>>;
  readonly ops: readonly string[];
  readonly mask: OpMask;
  readonly stem: Sequential;
  readonly cells: ModuleContainer<DartsSearchCell>;
  readonly classifier: Linear;

  constructor(readonly backend: Backend, rng: EngineRng, config: DartsSupernetConfig, fullMask: OpMask) {
    super();
    checkDartsSizes('DartsSupernet', config);
    this.ops = [...config.ops];
    const mask = (config.mask ?? fullMask).slice();
    if (mask.length !== 2 * EDGES_PER_CELL * this.ops.length) throw new Error(`DartsSupernet: mask has ${mask.length} entries, expected ${2 * EDGES_PER_CELL}×${this.ops.length}`);
    this.mask = mask;
    const { C, N, inputChannels, numClasses, trackCellStats } = config;
    this.config = Object.freeze({ C, N, inputChannels, numClasses, trackCellStats, mask });
    const Cstem = STEM_MULTIPLIER * C;
    this.stem = this.child('stem', new Sequential(new Conv2d(backend, rng, inputChannels, Cstem, 3, { padding: 1 }), new BatchNorm2d(backend, Cstem)));
    this.cells = this.child('cells', new ModuleContainer<DartsSearchCell>());
    let Cpp = Cstem, Cp = Cstem, Ccur = C, reductionPrev = false;
    const red = reductionLayers(N);
    const bn: DartsBn = { affine: false, trackRunningStats: trackCellStats };
    for (let i = 0; i < N; i++) {
      const reduction = red.includes(i);
      if (reduction) Ccur *= 2;
      this.cells.add(String(i), new DartsSearchCell(backend, rng, this.ops, Cpp, Cp, Ccur, reduction, reductionPrev, bn));
      reductionPrev = reduction;
      Cpp = Cp;
      Cp = MULTIPLIER * Ccur;
    }
    this.classifier = this.child('classifier', new Linear(backend, rng, Cp, numClasses));
  }

  forward(x: Tensor, sample: ArchSample): Tensor {
    this.checkSample(sample);
    checkDartsInput('DartsSupernet.forward', x, this.config.inputChannels);
    let s0 = this.stem.forward(x);
    let s1 = s0;
    for (const cell of this.cells.items) {
      const next = cell.forward(s0, s1, sample, cell.reduction ? EDGES_PER_CELL : 0, this.ops.length);
      s0 = s1;
      s1 = next;
    }
    return this.classifier.forward(globalAvgPool(s1));
  }

  checkSample(sample: ArchSample): void {
    const rows = 2 * EDGES_PER_CELL, cols = this.ops.length;
    if (!sample || !Array.isArray(sample.ops) || sample.ops.length !== rows) throw new Error(`ArchSample: ops must list the ops of each of the ${rows} DARTS edges`);
    for (const [what, list] of [['ops', sample.ops], ['weightOnly', sample.weightOnly]] as const) {
      if (!list) continue;
      if (list.length !== rows) throw new Error(`ArchSample: ${what} must have ${rows} edges, got ${list.length}`);
      list.forEach((ops, r) => {
        for (const o of ops) {
          if (!Number.isInteger(o) || o < 0 || o >= cols) throw new Error(`ArchSample: ${what}[${r}] has op index ${o}, expected 0..${cols - 1}`);
          if (this.mask[r * cols + o] !== 1) throw new Error(`ArchSample: ${what} runs ${this.ops[o]} on edge ${r}, which this supernet's mask disables`);
        }
      });
    }
    if ((sample.weightOnly || sample.ops.some((o) => o.length > 1)) && !sample.weights) throw new Error('ArchSample: several ops on one edge need a weights tensor');
    if (sample.weights && sample.weights.size !== rows * cols) throw new Error(`ArchSample: weights [${sample.weights.shape.join(', ')}] must hold ${rows}×${cols} values`);
  }

  /** GM's shared parameters for splitting normal edge `row` (spec §5.1 item 5): the ops of every other
   *  normal edge and of every reduction edge, in every cell; not the preprocessing, stem or head. */
  sharedParameters(row: number): Tensor[] {
    if (!Number.isInteger(row) || row < -1 || row >= 2 * EDGES_PER_CELL) throw new Error(`sharedParameters: edge ${row} must be -1 or 0..${2 * EDGES_PER_CELL - 1}`);
    const out: Tensor[] = [];
    for (const cell of this.cells.items) {
      cell.mixed.forEach((m, e) => {
        const r = (cell.reduction ? EDGES_PER_CELL : 0) + e;
        if (r !== row) out.push(...m.parameters());
      });
    }
    return out;
  }

  copyStateFrom(source: SpaceSupernet): void {
    const a = this.config, b = source.config;
    for (const k of ['C', 'N', 'inputChannels', 'numClasses', 'trackCellStats'] as const) {
      if (a[k] !== b[k]) throw new Error(`copyStateFrom: source supernet has ${k} ${b[k]}, this one ${a[k]}`);
    }
    copyModuleState(this, source);
  }
}
