// The DARTS CNN space as a SearchSpace (src/spaces/space.ts): 28 edge decisions — rows 0..13 the
// normal cell's 14 edges, rows 14..27 the reduction cell's — over GM's 7-op `s5` set ('darts') or the
// original 8 ops with 'none' ('darts-none'). GM splits by the DARTS rules of spec §5.1: only
// normal-cell edges are candidates, the split edge's op keeps its sampled (softmax / Gumbel) weight,
// groups of any sizes (2,5)/(3,4) for 7 ops are allowed (the cut takes the partition of minimal
// intra-group distance), and the edge of minimal intra distance is chosen.
import type { Backend, Rng as EngineRng } from '../../engine/index.js';
import type { SafetensorsInput } from '../../io/safetensors.js';
import type { TrainPresetSpec, EvalProtocol, HalvingProtocol, SearchSpace, Decision, OpMask, Genotype, ArchSample, SpaceNetwork, SpaceSupernet, SupernetBuildOptions, NetworkBuildOptions, SplitRules } from '../space.js';
import {
  fullGridMask, assertGridMask, gridEnabledOps, restrictGridMask, countGridAdmitted, unsplitGridRows, gridMaskToString, parseGridMask,
  gridMixedSample, gridReplaceOp, gridSinglePath, type Grid,
} from '../grid.js';
import { DARTS_OPS, DARTS_S5_OPS, CELL_EDGES, EDGES_PER_CELL } from './ops.js';
import { parseGenotypeText, formatGenotypeText, encodeGenotype, decodeGenotype, parseCellWeights, edgeRow, CELL_NAMES } from './genotype.js';
import { DartsSupernet } from './supernet.js';
import { DartsNetwork } from './network.js';
import {
  encodeDartsNetwork, decodeDartsNetwork, loadDartsNetworkInto, encodeDartsSupernet, decodeDartsSupernet, dartsSupernetMetadata,
  DARTS_NETWORK_FORMAT, DARTS_SUPERNET_FORMAT,
} from './checkpoint.js';

/** Group sizes (smaller first) of a split of `ops` ops into `branches` groups: every tuple of sizes ≥ 2
 *  when possible (DARTS: 7 ops, 2 branches → (2,5), (3,4)), else ≥ 1. */
function allGroupSizes(ops: number, branches: number): number[][] {
  const out: number[][] = [];
  const min = ops >= 2 * branches ? 2 : 1;
  const rec = (left: number, k: number, from: number, acc: number[]): void => {
    if (k === 1) { if (left >= from) out.push([...acc, left]); return; }
    for (let s = from; s * k <= left; s++) rec(left - s, k - 1, s, [...acc, s]);
  };
  rec(ops, branches, min, []);
  return out;
}

function softmaxRow(values: ArrayLike<number>, start: number, cols: number, enabled: (k: number) => boolean): number[] {
  let m = -Infinity;
  for (let k = 0; k < cols; k++) if (enabled(k)) m = Math.max(m, values[start + k]!);
  const e = Array.from({ length: cols }, (_, k) => (enabled(k) ? Math.exp(values[start + k]! - m) : 0));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export function makeDartsSpace(name: string, title: string, ops: readonly string[]): SearchSpace {
  const cols = ops.length;
  const decisions: readonly Decision[] = Object.freeze(CELL_NAMES.flatMap((cell, c) => CELL_EDGES.map((e) => Object.freeze({
    index: c * EDGES_PER_CELL + e.index, key: `${cell}:${e.from}->${e.node + 2}`, group: cell, ops,
  }))));
  const grid: Grid = { name: title, decisions, rows: decisions.length, cols };
  const full = fullGridMask(grid);
  const parseMask = (text: string): OpMask => parseGridMask(grid, text);
  const maskToString = (mask: OpMask): string => gridMaskToString(grid, mask);
  const asSupernet = (s: SpaceSupernet): DartsSupernet => {
    if (!(s instanceof DartsSupernet)) throw new Error(`${name}: expected a supernet built by the ${name} space`);
    return s;
  };
  const asNetwork = (n: SpaceNetwork): DartsNetwork => {
    if (!(n instanceof DartsNetwork)) throw new Error(`${name}: expected a network built by the ${name} space`);
    return n;
  };
  const buildSupernet = (be: Backend, rng: EngineRng, o: SupernetBuildOptions): DartsSupernet => {
    if (o.mask) assertGridMask(grid, o.mask, `${name} supernet mask`);
    return new DartsSupernet(be, rng, { ...o, ops }, full);
  };
  const none = ops.indexOf('none');
  const realOps = (mask: OpMask, row: number): number[] => gridEnabledOps(grid, mask, row).filter((k) => k !== none);
  const split: SplitRules = Object.freeze({
    candidates: (mask: OpMask) => unsplitGridRows(grid, mask).filter((r) => r < EDGES_PER_CELL),
    splitWeight: 'sample' as const,
    groupSizes: allGroupSizes,
    edgeCriterion: 'min-intra' as const,
  });
  const space: SearchSpace = {
    name, title, decisions, rows: grid.rows, cols, groups: CELL_NAMES,
    describeSize: ({ C, N }: { C: number; N: number }, sep = '='): string => `C${sep}${C} N${sep}${N}`,
    fullMask: () => full.slice(),
    assertMask: (mask: OpMask, what?: string) => assertGridMask(grid, mask, what),
    maskToString, parseMask,
    enabledOps: (mask: OpMask, row: number) => gridEnabledOps(grid, mask, row),
    restrictMask: (mask: OpMask, row: number, keep: readonly number[]) => restrictGridMask(grid, mask, row, keep),
    countAdmitted: (mask: OpMask) => countGridAdmitted(grid, mask),
    unsplit: (mask: OpMask) => unsplitGridRows(grid, mask),
    maskAdmits: (mask: OpMask, g: Genotype) => g.length === grid.rows && g.every((v, r) => v < 0 || mask[r * cols + (v % cols)] === 1),
    buildSupernet,
    buildNetwork: (be: Backend, rng: EngineRng, o: NetworkBuildOptions) => new DartsNetwork(be, rng, { ...o, ops }),
    networkDefaults: { C: 36, N: 20 },
    trainPresets: TRAIN_PRESETS,
    parseGenotype: (text: string) => encodeGenotype(parseGenotypeText(text), ops),
    formatGenotype: (g: Genotype) => formatGenotypeText(decodeGenotype(g, ops)),
    derive: (alpha: ArrayLike<number>, mask: OpMask): Genotype => {
      if (alpha.length !== grid.rows * cols) throw new Error(`${name} derive: expected ${grid.rows * cols} α values, got ${alpha.length}`);
      // per cell: the masked softmax of α, then the reference's top-2 parse ('none' excluded)
      const out = new Array<number>(grid.rows).fill(-1);
      CELL_NAMES.forEach((_, c) => {
        const on = (row: number, k: number): boolean => mask[(c * EDGES_PER_CELL + row) * cols + k] === 1;
        const W = CELL_EDGES.map((e) => softmaxRow(alpha, (c * EDGES_PER_CELL + e.index) * cols, cols, (k) => on(e.index, k)));
        parseCellWeights(W, ops, on).forEach((p, k) => { out[edgeRow(c, Math.floor(k / 2), p.from)] = ops.indexOf(p.op) + cols * (k % 2); });
      });
      return out;
    },
    singlePathSample: (g: Genotype) => gridSinglePath(grid, g),
    // a "single path" of the DARTS space is a discrete cell pair: per node two distinct input edges
    // (uniform), each with a uniform enabled op other than 'none' (random search with weight sharing
    // samples architectures, not one op on every edge); the lower input takes slot 0
    sampleSinglePath: (rng: { next(): number }, mask: OpMask) => {
      const out = new Array<number>(grid.rows).fill(-1);
      const pick = (n: number): number => Math.min(n - 1, Math.floor(rng.next() * n));
      for (let c = 0; c < 2; c++) {
        for (let node = 0; node < 4; node++) {
          const a = pick(node + 2);
          let b = pick(node + 1);
          if (b >= a) b++;
          [Math.min(a, b), Math.max(a, b)].forEach((from, slot) => {
            const row = edgeRow(c, node, from);
            const en = realOps(mask, row);
            if (!en.length) throw new Error(`${name}: edge ${decisions[row]!.key} enables no op other than 'none'`);
            out[row] = en[pick(en.length)]! + cols * slot;
          });
        }
      }
      return out;
    },
    countSinglePaths: (mask: OpMask) => {
      let n = 1;
      for (let c = 0; c < 2; c++) {
        for (let node = 0; node < 4; node++) {
          const k = Array.from({ length: node + 2 }, (_, from) => realOps(mask, edgeRow(c, node, from)).length);
          let s = 0;
          for (let i = 0; i < k.length; i++) for (let j = i + 1; j < k.length; j++) s += k[i]! * k[j]!;
          n *= s;
        }
      }
      return n;
    },
    isValidSinglePath: (g: Genotype) => {
      try { decodeGenotype(g, ops); return true; } catch { return false; }
    },
    mixedSample: (mask: OpMask, weights) => gridMixedSample(grid, mask, weights),
    replaceDecisionOp: (sample: ArchSample, row: number, op: number, keepWeight = false) => gridReplaceOp(grid, sample, row, op, keepWeight),
    split,
    describeGenotype: (g: Genotype) => {
      const text = decodeGenotype(g, ops);
      return CELL_NAMES.map((cell) => ({
        group: cell, inputs: ['c_{k-2}', 'c_{k-1}'], nodes: ['0', '1', '2', '3'], output: 'c_{k}',
        edges: text[cell].map((p, k) => ({ from: p.from < 2 ? ['c_{k-2}', 'c_{k-1}'][p.from]! : String(p.from - 2), to: String(Math.floor(k / 2)), op: p.op })),
      }));
    },
    searchPreset: dartsSearchPreset,
    evalProtocol: dartsEvalProtocol,
    halvingProtocol: dartsHalvingProtocol,
    methodHyper: (base: string) => ({
      // spec §5.1: SGD without nesterov, weight decay 3e-4, batch 64; SNAS τ 1 → 0.03;
      // --fix_alpha_equal: α = 1e-3·ones (exactly uniform) for the DARTS methods
      nesterov: false, weightDecay: 3e-4, batchSize: 64,
      ...(base === 'snas' ? { tauMin: 0.03 } : {}),
      ...(base === 'darts' || base === 'darts2' ? { alphaInitMean: 1e-3, alphaInitStd: 0 } : {}),
    }),
    checkpointFormats: { network: DARTS_NETWORK_FORMAT, supernet: DARTS_SUPERNET_FORMAT },
    encodeNetwork: (net: SpaceNetwork, metadata?: Record<string, string>) => encodeDartsNetwork(asNetwork(net), metadata),
    decodeNetwork: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) => decodeDartsNetwork(be, rng, bytes, source, ops),
    loadNetworkInto: (net: SpaceNetwork, bytes: Uint8Array, source: string) => loadDartsNetworkInto(asNetwork(net), bytes, source),
    supernetMetadata: (s: SpaceSupernet, extra?: Record<string, string>) => dartsSupernetMetadata(asSupernet(s), maskToString(s.mask), extra),
    encodeSupernet: (s: SpaceSupernet, extra?: SafetensorsInput[], metadata?: Record<string, string>) => encodeDartsSupernet(asSupernet(s), maskToString(s.mask), extra, metadata),
    decodeSupernet: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) =>
      decodeDartsSupernet(be, rng, bytes, source, (o) => buildSupernet(be, rng, o), parseMask, ops),
  };
  return Object.freeze(space);
}

/** The DARTS / GM evaluation protocol (spec §5.1, the reference's train.py): 600 epochs, batch 96,
 *  SGD 0.025 (momentum 0.9, no nesterov) cosine to 0, weight decay 3e-4, gradient clip 5, auxiliary
 *  weight 0.4, drop-path 0.2, cutout 16, C = 36, 20 cells; 'quick' shrinks it to seconds-per-epoch. */
const TRAIN_PRESETS: Readonly<Record<string, TrainPresetSpec>> = Object.freeze({
  paper: {
    hyper: { epochs: 600, batchSize: 96, lr: 0.025, lrMin: 0, momentum: 0.9, nesterov: false, weightDecay: 3e-4, gradClip: 5, auxWeight: 0.4, dropPathProb: 0.2, cutout: 16 },
    channels: 36, cells: 20, evalEvery: 10,
  },
  quick: {
    hyper: { epochs: 2, batchSize: 32, lr: 0.025, lrMin: 0, momentum: 0.9, nesterov: false, weightDecay: 3e-4, gradClip: 5, auxWeight: 0.4, dropPathProb: 0.2, cutout: 16 },
    channels: 8, cells: 5, trainLimit: 200, testLimit: 100, evalEvery: 1,
  },
});

/**
 * The evaluation protocol (TRAIN_PRESETS.paper) fitted to a search: `paper` trains the reference's
 * C = 36, 20 cells; smaller presets the search supernet's C and cells. Cutout keeps its share of the
 * image side (16 of 32); the auxiliary head is dropped unless the images are 32×32 (its pooling is
 * sized for the 8×8 maps of CIFAR); SGD, cosine, weight decay, clipping and drop-path are unchanged.
 */
function dartsEvalProtocol(preset: string, imageShape: readonly number[], sizes: { C: number; N: number }): EvalProtocol {
  const paper = TRAIN_PRESETS.paper!;
  const { epochs: _epochs, ...hyper } = paper.hyper;
  const notes: string[] = [];
  const [, H, W] = imageShape as [number, number, number];
  const out = { ...hyper };
  if (H !== 32 || W !== 32) {
    out.auxWeight = 0;
    out.cutout = Math.max(1, Math.round(((paper.hyper.cutout ?? 16) * Math.min(H, W)) / 32));
    notes.push(`no auxiliary head (it needs 32×32 images, these are ${H}×${W}); cutout ${out.cutout} (16 at 32×32)`);
  }
  const big = preset === 'paper';
  if (!big) notes.push(`C ${sizes.C}, ${sizes.N} cells (the search supernet's; the paper's network is C ${paper.channels}, ${paper.cells} cells)`);
  return { hyper: out, channels: big ? paper.channels : sizes.C, cells: big ? paper.cells : sizes.N, notes };
}

/**
 * GM's successive_halving.py (spec §5.1) over the leaves' genotypes, each trained once under the
 * evaluation protocol (600-epoch cosine) with its per-epoch validation accuracy logged: phase 1 scores
 * epochs 0–29 by GM's moving average and keeps the top half (4 of 8), phase 2 scores epochs 31–99 of
 * the survivors (epoch 30 is skipped, as there) and keeps the top half (2); the script stops there —
 * gmnas picks the better of the two by its phase-2 score. `firstPhaseEpochs` scales every epoch figure
 * (30 = the reference's).
 */
function dartsHalvingProtocol(firstPhaseEpochs: number): HalvingProtocol {
  if (!Number.isInteger(firstPhaseEpochs) || firstPhaseEpochs < 1) throw new Error(`halving: the first phase needs a positive whole number of epochs, got ${firstPhaseEpochs}`);
  const at = (epoch: number): number => Math.round((epoch * firstPhaseEpochs) / 30);
  const p2from = Math.max(firstPhaseEpochs, at(31));
  const p2to = Math.max(p2from + 1, at(100));
  return {
    horizon: Math.max(p2to, at(600)),
    phases: [{ from: 0, to: firstPhaseEpochs }, { from: p2from, to: p2to }],
    reduction: 'gm-moving-average',
  };
}

/**
 * Search presets in the DARTS space:
 *  - paper (spec §5.1): C=16, 8 cells, batch 64, splits at epochs 2, 4, 6 and 15 leaf epochs (21 in
 *    all), 3 splits × 2 branches = 8 leaves, restart at the last split with a fully annealed cosine
 *    (fix_sche), few-shot: 7 sub-supernets split at epoch 0 and trained 20 epochs; GM repeats R = 100
 *    as on NB201 (the DARTS scripts' value was not verified);
 *  - quick: the whole pipeline in minutes on a CPU (C=4, 3 cells, 16×16 images, R=1, 8 leaves);
 *  - tiny: seconds, for tests (C=2, 3 cells, 8×8 images, one split level).
 */
function dartsSearchPreset(preset: string, _base: string, method: string): Record<string, unknown> | null {
  const splits = (gm: number[]): number[] => (method === 'oneshot' ? [] : method === 'fewshot' ? [0] : gm);
  if (preset === 'paper') {
    return {
      channels: 16, cells: 8, batchSize: 64, stepsPerEpoch: null, splitEpochs: splits([2, 4, 6]), totalEpochs: method === 'fewshot' ? 20 : 21,
      gmRepeats: 100, valBatches: null, rspsCandidates: 200, trainLimit: null, syntheticSize: null, halvingEpochs: 30, downsample: 1, lr: null,
      fixSchedule: true, select: 'halving',
    };
  }
  if (preset === 'quick') {
    // sized by measurement (docs/spaces.md "The quick DARTS search"): the 616 GM forward/backward passes
    // of 3 split levels (14 + 2·13 + 4·12 edges × 7 ops at R = 1) dominate; 3 cells (normal, reduce,
    // reduce) instead of 5 take 40 % fewer launches per pass, which is what lavapipe pays for
    return {
      channels: 4, cells: 3, batchSize: 16, stepsPerEpoch: 5, splitEpochs: splits([1, 2, 3]), totalEpochs: 5,
      gmRepeats: 1, valBatches: 4, rspsCandidates: 8, trainLimit: null, syntheticSize: 1000, halvingEpochs: 1, downsample: 2, lr: null,
      // argmax α (the reference): the library quick preset's perturbation derivation was measured on
      // NB201 only (docs/quality.md)
      fixSchedule: true, derive: 'alpha',
    };
  }
  if (preset === 'tiny') {
    return {
      channels: 2, cells: 3, batchSize: 4, stepsPerEpoch: 1, splitEpochs: splits([1]), totalEpochs: 2,
      gmRepeats: 1, valBatches: 1, rspsCandidates: 2, trainLimit: null, syntheticSize: 64, halvingEpochs: 1, downsample: 4, lr: null,
      fixSchedule: true,
    };
  }
  return null;
}

/** GM's DARTS space: the 7-op s5 set. */
export const dartsSpace = makeDartsSpace('darts', 'DARTS (s5)', DARTS_S5_OPS);
/** The original DARTS space with 'none' (8 ops). */
export const dartsNoneSpace = makeDartsSpace('darts-none', 'DARTS (8 ops)', DARTS_OPS);
