// The NB201 search supernet (spec §1.3; `GM:WS-GM/nasbench201/search_model.py`, `search_cells.py`):
// stem, three stages of N search cells separated by two residual reduction blocks, head. Every search
// cell holds all five ops on each of its six edges; all 15 (3N) cells share one 6×5 architecture
// sample. The supernet carries an op mask (its node in the partition tree): masked ops never run.
//
// What runs is decided by an `ArchSample`, built by the base method (src/search) on the host side:
//   - `ops[e]`: the op indices that run on edge e. Ops outside this list launch nothing — the
//     reference's rule "ops whose weight is exactly 0 are not executed" (spec §1.2) is applied by
//     whoever builds the sample, because it knows which weights are exactly 0 without reading the
//     device (masked entries of a masked softmax, the other entries of a one-hot row, …).
//     'none' may be listed; it is skipped too: its output is exactly zero, so leaving it out changes
//     no value and no gradient (the reference's Zero keeps an all-zero autograd path; the weight's
//     gradient through it is <dy, 0> = 0).
//   - `weights`: a [6,5] device tensor (may carry gradients to α). Node j of every search cell is
//     Σ_{edges e into j} Σ_{o in ops[e]} weights[e,o]·op_o(node_from(e)), computed as one weighted-sum
//     kernel per node. `null` means unit weights: a plain sum (a single path for RSPS / evaluation).
//   - `weightOnly[e]` (optional): ops whose weight is added to the node as a constant (value × ones) —
//     GDAS's straight-through rule, where unselected ops contribute `hardwts[k]` (value 0) so that
//     their weights still receive the gradient Σ dy (`ADL:xautodl/models/cell_searchs/search_cells.py`,
//     forward_gdas).
// A node with nothing to sum is exactly zero (a cell disconnected by 'none').
//
// State-dict names follow GM's search model (documented in docs/checkpoints.md):
//   stem.0.weight, stem.1.{weight,bias,running_mean,running_var,num_batches_tracked}
//   cells.{k}.edges.{j<-i}.{op}.op.1.weight            conv of op `op` (2 = 1×1, 3 = 3×3) on edge j<-i
//   cells.{k}.edges.{j<-i}.{op}.op.2.{running_mean,…}  its non-affine BN (only when it tracks stats)
//   cells.{k}.conv_a.op.{1,2}.*, cells.{k}.conv_b.op.{1,2}.*, cells.{k}.downsample.1.weight  (reductions)
//   lastact.0.*, classifier.{weight,bias}
import { Tensor, Module, Linear, Sequential, add, mul, weightedSum, addN, copyModuleState } from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';
import { NB201_EDGES, NUM_EDGES, NUM_OPS, NUM_NODES, OP_NONE, OP_AVG_POOL, NB201_OPS, assertOpMask, enabledOps, fullMask, maskToString, type OpMask } from './ops.js';
import { assertGenotype, type Genotype } from './genotype.js';
import {
  makeCellOp, makeStem, makeLastAct, headForward, macroLayout, checkMacroConfig, ResNetBasicblock, ModuleContainer,
  batchNormsByPath, checkNetworkInput, type BnFlags,
} from './cells.js';

export interface SupernetConfig {
  /** Channels of the first stage (16 in NB201). */
  C: number;
  /** Search cells per stage (5 in NB201). */
  N: number;
  /** Image channels: 3 for CIFAR / ImageNet16, 1 for (Fashion-)MNIST. */
  inputChannels: number;
  numClasses: number;
  /** Whether the search cells' (non-affine) BNs track running statistics: true for DARTS, SNAS and
   *  GDAS, false for RSPS (spec §1.2), whose cell BNs then use batch statistics even in eval(). */
  trackCellStats: boolean;
  /** Ops this (sub-)supernet may run; default: all. */
  mask?: OpMask;
}

/** What one forward pass runs; see the file comment. */
export interface ArchSample {
  readonly ops: readonly (readonly number[])[];
  readonly weights: Tensor | null;
  readonly weightOnly?: readonly (readonly number[])[];
}

/** The parameters of the supernet by role (GM's split gradient uses edge ops + reductions). */
export interface SupernetParamGroups {
  stem: Tensor[];
  /** lastact BN + classifier */
  head: Tensor[];
  /** both residual reduction blocks */
  reductions: Tensor[];
  /** edgeOps[eid][op]: the parameters of op `op` on edge `eid`, in every search cell (cell order). */
  edgeOps: Tensor[][][];
}

/** One search cell: `edges` = ModuleDict keyed 'j<-i' (eid order) of ModuleLists of the 5 ops. */
export class SearchCell extends Module {
  readonly edgeOps: Forward[][] = [];
  constructor(be: Backend, rng: EngineRng, readonly channels: number, bn: BnFlags) {
    super();
    const edges = this.child('edges', new ModuleContainer());
    for (const edge of NB201_EDGES) {
      const list = edges.add(edge.key, new ModuleContainer<Forward>());
      const ops: Forward[] = [];
      for (let o = 0; o < NUM_OPS; o++) ops.push(list.add(String(o), makeCellOp(be, rng, o, channels, bn)));
      this.edgeOps.push(ops);
    }
  }

  forward(x: Tensor, sample: ArchSample): Tensor {
    const nodes: Tensor[] = [x];
    let ones: Tensor | null = null;
    // avg_pool_3x3 has no parameters, so the edges leaving a node share one pooled tensor: one launch
    // instead of one per edge (its gradient is the sum of theirs, which autograd accumulates)
    const pooled = new Map<number, Tensor>();
    for (let to = 1; to < NUM_NODES; to++) {
      const terms: Tensor[] = [];
      const index: number[] = [];
      for (const edge of NB201_EDGES) {
        if (edge.to !== to) continue;
        const input = nodes[edge.from];
        for (const o of sample.ops[edge.eid]) {
          if (o === OP_NONE) continue;
          if (o === OP_AVG_POOL) {
            let p = pooled.get(edge.from);
            if (!p) pooled.set(edge.from, (p = this.edgeOps[edge.eid][o].forward(input)));
            terms.push(p);
          } else {
            terms.push(this.edgeOps[edge.eid][o].forward(input));
          }
          index.push(edge.eid * NUM_OPS + o);
        }
        for (const o of sample.weightOnly?.[edge.eid] ?? []) {
          ones ??= Tensor.full(x.backend, x.shape, 1);
          terms.push(ones);
          index.push(edge.eid * NUM_OPS + o);
        }
      }
      if (terms.length === 0) nodes.push(Tensor.zeros(x.backend, x.shape));
      else if (sample.weights) nodes.push(weightedSum(terms, sample.weights, index));
      else nodes.push(addN(terms));
    }
    return nodes[NUM_NODES - 1];
  }
}

export class Nb201Supernet extends Module {
  readonly config: Readonly<Required<SupernetConfig>>;
  readonly mask: OpMask;
  readonly stem: Sequential;
  readonly cells: ModuleContainer;
  readonly lastact: Sequential;
  readonly classifier: Linear;
  readonly searchCells: SearchCell[] = [];
  readonly reductionBlocks: ResNetBasicblock[] = [];
  /** cells in forward order (search cells and reduction blocks) */
  private readonly sequence: (SearchCell | ResNetBasicblock)[] = [];

  constructor(readonly backend: Backend, rng: EngineRng, config: SupernetConfig) {
    super();
    checkMacroConfig('Nb201Supernet', config);
    if (typeof config.trackCellStats !== 'boolean') throw new Error('Nb201Supernet: trackCellStats must be true or false');
    const mask = config.mask ? config.mask.slice() : fullMask();
    assertOpMask(mask, 'Nb201Supernet mask');
    this.mask = mask;
    this.config = Object.freeze({ ...config, mask });
    const { C, N, inputChannels, numClasses } = config;
    const cellBn: BnFlags = { affine: false, trackRunningStats: config.trackCellStats };
    this.stem = this.child('stem', makeStem(backend, rng, inputChannels, C));
    this.cells = this.child('cells', new ModuleContainer());
    let prev = C;
    macroLayout(C, N).forEach(({ channels, reduction }, k) => {
      if (reduction) {
        const block = this.cells.add(String(k), new ResNetBasicblock(backend, rng, prev, channels));
        this.reductionBlocks.push(block);
        this.sequence.push(block);
      } else {
        const cell = this.cells.add(String(k), new SearchCell(backend, rng, channels, cellBn));
        this.searchCells.push(cell);
        this.sequence.push(cell);
      }
      prev = channels;
    });
    this.lastact = this.child('lastact', makeLastAct(backend, prev));
    this.classifier = this.child('classifier', new Linear(backend, rng, prev, numClasses));
  }

  /** Logits [N, numClasses] for images x [N, inputChannels, H, W] under `sample`. */
  forward(x: Tensor, sample: ArchSample): Tensor {
    this.checkSample(sample);
    checkNetworkInput('Nb201Supernet.forward', x, this.config.inputChannels);
    let h = this.stem.forward(x);
    for (const cell of this.sequence) h = cell instanceof SearchCell ? cell.forward(h, sample) : cell.forward(h);
    return headForward(this.lastact, this.classifier, h);
  }

  /** Throws unless the sample only runs ops this supernet's mask enables. */
  checkSample(sample: ArchSample): void {
    if (!sample || !Array.isArray(sample.ops) || sample.ops.length !== NUM_EDGES) {
      throw new Error(`ArchSample: ops must list the ops of each of the ${NUM_EDGES} edges`);
    }
    const lists: [string, readonly (readonly number[])[] | undefined][] = [['ops', sample.ops], ['weightOnly', sample.weightOnly]];
    for (const [what, list] of lists) {
      if (!list) continue;
      if (list.length !== NUM_EDGES) throw new Error(`ArchSample: ${what} must have ${NUM_EDGES} edges, got ${list.length}`);
      list.forEach((ops, e) => {
        for (const o of ops) {
          if (!Number.isInteger(o) || o < 0 || o >= NUM_OPS) throw new Error(`ArchSample: ${what}[${e}] has op index ${o}, expected 0..${NUM_OPS - 1}`);
          if (this.mask[e * NUM_OPS + o] !== 1) {
            throw new Error(`ArchSample: ${what} runs ${NB201_OPS[o]} on edge ${NB201_EDGES[e].key}, ` +
              `which this supernet's mask ${maskToString(this.mask)} disables`);
          }
        }
        if (new Set(ops).size !== ops.length) throw new Error(`ArchSample: ${what}[${e}] lists an op twice: [${ops.join(', ')}]`);
      });
    }
    if ((sample.weightOnly || sample.ops.some((ops) => ops.length > 1)) && !sample.weights) {
      throw new Error('ArchSample: several ops on one edge (or weightOnly ops) need a weights tensor');
    }
    if (sample.weights && sample.weights.size !== NUM_EDGES * NUM_OPS) {
      throw new Error(`ArchSample: weights [${sample.weights.shape.join(', ')}] must hold ${NUM_EDGES}×${NUM_OPS} values`);
    }
  }

  paramGroups(): SupernetParamGroups {
    const edgeOps: Tensor[][][] = Array.from({ length: NUM_EDGES }, () => Array.from({ length: NUM_OPS }, () => [] as Tensor[]));
    for (const cell of this.searchCells) {
      cell.edgeOps.forEach((ops, e) => ops.forEach((op, o) => edgeOps[e][o].push(...op.parameters())));
    }
    return {
      stem: this.stem.parameters(),
      head: [...this.lastact.parameters(), ...this.classifier.parameters()],
      reductions: this.reductionBlocks.flatMap((b) => b.parameters()),
      edgeOps,
    };
  }

  /** Parameters of op `op` on edge `eid` across all search cells. */
  edgeOpParameters(eid: number, op: number): Tensor[] {
    checkEdgeOp('edgeOpParameters', eid, op);
    return this.searchCells.flatMap((c) => c.edgeOps[eid][op].parameters());
  }

  /**
   * GM's "shared weights" for scoring edge `excludeEdge` (spec §3.3): every op's parameters on every
   * other edge of every search cell, then both reduction blocks; not the stem, not the head. Pass -1
   * to exclude no edge. Order: cell by cell, edge by edge, op by op, then the reduction blocks.
   */
  sharedParameters(excludeEdge: number): Tensor[] {
    if (!Number.isInteger(excludeEdge) || excludeEdge < -1 || excludeEdge >= NUM_EDGES) {
      throw new Error(`sharedParameters: edge ${excludeEdge} must be -1 or 0..${NUM_EDGES - 1}`);
    }
    const out: Tensor[] = [];
    for (const cell of this.searchCells) {
      cell.edgeOps.forEach((ops, e) => { if (e !== excludeEdge) for (const op of ops) out.push(...op.parameters()); });
    }
    for (const b of this.reductionBlocks) out.push(...b.parameters());
    return out;
  }

  /** Copy every parameter, buffer and BN batch count from `source` (same C, N, channels, classes and
   *  cell-BN tracking; masks may differ) — weight inheritance at a split. */
  copyStateFrom(source: Nb201Supernet): void {
    const a = this.config, b = source.config;
    for (const k of ['C', 'N', 'inputChannels', 'numClasses', 'trackCellStats'] as const) {
      if (a[k] !== b[k]) throw new Error(`copyStateFrom: source supernet has ${k} ${b[k]}, this one ${a[k]}`);
    }
    copyModuleState(this, source);
  }

  /** A new supernet with `mask` holding a copy of this one's weights, buffers and BN counts. */
  cloneWithMask(mask: OpMask, rng: EngineRng): Nb201Supernet {
    const child = new Nb201Supernet(this.backend, rng, { ...this.config, mask });
    child.copyStateFrom(this);
    child.train(this.training);
    return child;
  }
}

export { copyModuleState } from '../../engine/index.js';

function checkEdgeOp(what: string, eid: number, op: number): void {
  if (!Number.isInteger(eid) || eid < 0 || eid >= NUM_EDGES) throw new Error(`${what}: edge ${eid} must be in 0..${NUM_EDGES - 1}`);
  if (!Number.isInteger(op) || op < 0 || op >= NUM_OPS) throw new Error(`${what}: op ${op} must be in 0..${NUM_OPS - 1}`);
}

// ---- building samples -------------------------------------------------------------------------

/** One op per edge, unit weights: the stand-alone cell `genotype` inside the supernet. */
export function singlePathSample(genotype: Genotype): ArchSample {
  assertGenotype(genotype);
  return { ops: genotype.map((o) => [o]), weights: null };
}

/** Every op the mask enables, weighted by `weights` [6,5] (entries of masked ops are never read). */
export function mixedSample(mask: OpMask, weights: Tensor): ArchSample {
  assertOpMask(mask);
  return { ops: Array.from({ length: NUM_EDGES }, (_, e) => enabledOps(mask, e)), weights };
}

/**
 * A sample from host-side weights (30 values, row-major [6,5]): ops whose weight is exactly 0, and
 * masked ops, do not run — the reference's rule, applied where the values are known.
 */
export function sampleFromHostWeights(be: Backend, weights: ArrayLike<number>, mask: OpMask): ArchSample {
  assertOpMask(mask);
  if (weights.length !== NUM_EDGES * NUM_OPS) throw new Error(`sampleFromHostWeights: expected ${NUM_EDGES * NUM_OPS} weights, got ${weights.length}`);
  const ops = Array.from({ length: NUM_EDGES }, (_, e) => enabledOps(mask, e).filter((o) => weights[e * NUM_OPS + o] !== 0));
  return { ops, weights: Tensor.fromArray(be, Float32Array.from(weights), [NUM_EDGES, NUM_OPS]) };
}

/**
 * `sample` with edge `eid` replaced by op `op` alone at weight 1 (GM's θ_o, spec §3.3, `--hard 1`);
 * the other edges keep the sample's ops and weights. With weights, the new tensor is
 * weights·keep + onehot, computed on the device (recorded for autograd when `weights` is).
 */
export function replaceEdgeOp(sample: ArchSample, eid: number, op: number): ArchSample {
  checkEdgeOp('replaceEdgeOp', eid, op);
  const ops = sample.ops.map((o, e) => (e === eid ? [op] : o));
  const weightOnly = sample.weightOnly?.map((o, e) => (e === eid ? [] : o));
  if (!sample.weights) return { ops, weights: null, ...(weightOnly ? { weightOnly } : {}) };
  const be = sample.weights.backend;
  const keep = new Float32Array(NUM_EDGES * NUM_OPS).fill(1);
  const onehot = new Float32Array(NUM_EDGES * NUM_OPS);
  for (let o = 0; o < NUM_OPS; o++) keep[eid * NUM_OPS + o] = 0;
  onehot[eid * NUM_OPS + op] = 1;
  const shape = sample.weights.shape;
  const weights = add(mul(sample.weights, Tensor.fromArray(be, keep, shape)), Tensor.fromArray(be, onehot, shape));
  return { ops, weights, ...(weightOnly ? { weightOnly } : {}) };
}

/** Human-readable description of a sample's ops (for logs and errors). */
export function describeSample(sample: ArchSample): string {
  return sample.ops.map((ops, e) => `${NB201_EDGES[e].key}:${ops.map((o) => NB201_OPS[o]).join('+') || '-'}`).join(' ');
}

/** The genotype a single-path sample runs; throws if some edge runs no op or several. */
export function sampleGenotype(sample: ArchSample): Genotype {
  const g = sample.ops.map((ops, e) => {
    if (ops.length !== 1) throw new Error(`sampleGenotype: edge ${NB201_EDGES[e].key} runs ${ops.length} ops, expected 1`);
    return ops[0];
  });
  return g;
}
