// The MobileNet (ProxylessNAS) space as a SearchSpace (src/spaces/space.ts), gmnas-spec.md §5.2:
// 21 decisions, one per searchable block, over MOBILE_OPS (six MBConvs, plus `zero` only on the 15
// blocks with an identity shortcut: ragged rows, padded to 7 columns). GM splits with the balanced
// exact cut (2 then 3 branches: 3+4 / 3+3, then 2+2+3 / 2+2+2), the block of smallest intra-group
// distance, the split op at weight 1. Sizes: C = 32·width_mult, N unused (space-modules.ts).
// docs/mobilenet.md describes the formats.
import { Tensor, add, mul } from '../../engine/index.js';
import type { Backend, Rng as EngineRng } from '../../engine/index.js';
import type { TrainPresetSpec, SpaceSizes, SearchSpace, Decision, OpMask, Genotype, ArchSample, SpaceNetwork, SpaceSupernet, SplitRules, NetworkBuildOptions, SupernetBuildOptions } from '../space.js';
import { assertGenotypeShape } from '../space.js';
import { decodeSafetensors, type SafetensorsInput } from '../../io/safetensors.js';
import { loadModuleState } from '../../engine/index.js';
import { MOBILE_OPS } from './ops.js';
import { macroLayout, FIRST_CONV_WIDTH } from './layout.js';
import { parseGenotype as parseMobileGenotype, formatGenotype as formatMobileGenotype } from './genotype.js';
import { encodeMobileNetCheckpoint, decodeMobileNetCheckpoint, MOBILENET_FORMAT } from './checkpoint.js';
import {
  MASK_ROWS, MASK_COLS, BLOCK_OPS, assertMobileMask, fullMobileMask, enabledMobileOps, restrictMobileMask, countMobileAdmitted,
  unsplitBlocks, mobileMaskAdmits, mobileMaskToString, parseMobileMask,
} from './mask.js';
import {
  MobileNetSpaceNetwork, MobileNetSpaceSupernet, genotypeOps, encodeMobileSupernet, decodeMobileSupernet, mobileSupernetMetadata,
  MOBILENET_SUPERNET_FORMAT, widthMultOf,
} from './space-modules.js';
import { mobileNetCost, mobileNetOpMacs } from './cost.js';
import { mobileLatencyProbes } from './latency-probes.js';

const decisions: readonly Decision[] = Object.freeze(macroLayout(1).blocks.map((b) => Object.freeze({
  index: b.index, key: `block:${b.index}`, group: `stage${b.stage + 1}`, ops: Object.freeze(BLOCK_OPS[b.index].map((j) => MOBILE_OPS[j])),
})));

const split: SplitRules = Object.freeze({
  candidates: (mask: OpMask) => unsplitBlocks(mask),
  // ProxylessNAS-GM scores an op with the other blocks on one sampled binary-gate path each
  splitWeight: 'one' as const,
  // balanced, smaller groups first: 3+4 / 3+3 for two branches, 2+2+3 / 2+2+2 for three
  groupSizes: (ops: number, branches: number) => {
    const small = Math.floor(ops / branches), large = ops % branches;
    return [[...Array<number>(branches - large).fill(small), ...Array<number>(large).fill(small + 1)]];
  },
  edgeCriterion: 'min-intra' as const,
});

/** Stand-alone training (`run.js train --space mobilenet`): 'quick' is seconds-per-epoch on a CPU
 *  (width 0.25, 2 epochs of batch 64 on 2 000 images, nesterov SGD 0.025 cosine to 0 — 0.1 is unstable
 *  at this size, see retrainHyper —, wd 4e-5 as §5.2, no clipping); ProxylessNAS's full ImageNet
 *  protocol is not reproduced here. */
const TRAIN_PRESETS: Readonly<Record<string, TrainPresetSpec>> = Object.freeze({
  quick: {
    hyper: { epochs: 2, batchSize: 64, lr: 0.025, lrMin: 0, momentum: 0.9, nesterov: true, weightDecay: 4e-5, gradClip: 0 },
    channels: 8, cells: 1, trainLimit: 2000, testLimit: 1000, evalEvery: 1,
  },
});

/**
 * Search presets (GM + ProxylessNAS by default, `defaultBase`):
 *  - paper (spec §5.2): width 1.0 (C = 32), batch 512, warmup 40 epochs, splits at 40 and 80 with 2 then
 *    3 branches (6 sub-supernets), 160 epochs in all (40 + 120 of search), children inherit weights
 *    (no restart), R = 100; ImageNet-style data (`--dataset image-folder`, 224×224 by default);
 *  - quick: the whole pipeline in minutes on this machine's CPU on the embedded Fashion-MNIST
 *    (docs/mobilenet.md has the measured figures);
 *  - tiny: seconds, for tests (width 0.125, 8×8 images, one step per epoch).
 * Few-shot splits block 0 into its 6 ops; one-shot does not split.
 */
function mobileSearchPreset(preset: string, base: string, method: string): Record<string, unknown> | null {
  const levels = (gm: number[]): { splitEpochs: number[]; branches?: number[] } =>
    (method === 'oneshot' ? { splitEpochs: [] } : method === 'fewshot' ? { splitEpochs: [0] } : { splitEpochs: gm, branches: [2, 3] });
  if (preset === 'paper') {
    return {
      channels: 32, cells: 1, batchSize: 512, stepsPerEpoch: null, ...levels([40, 80]), totalEpochs: 160,
      gmRepeats: 100, valBatches: null, rspsCandidates: 200, trainLimit: null, syntheticSize: null, halvingEpochs: 10, downsample: 1, lr: null,
      restart: false, retrainEpochs: 300, pathTuneSteps: 0,
    };
  }
  if (preset === 'quick') {
    return {
      // 32×32 (28×28 zero-padded): at 16×16 the four stride-2 stages leave 1×1 maps from the third
      // stage on and a stand-alone network learns half as fast for 30 % less CPU (docs/mobilenet.md)
      // R = 1: the GM splits were 45 % of the quick run's wall time at R = 2 (21 + 2×20 blocks scored);
      // one θ sample per op halves them (docs/mobilenet.md, session 5)
      channels: 8, cells: 1, batchSize: 64, stepsPerEpoch: 20, ...levels([2, 4]), totalEpochs: 8,
      gmRepeats: 1, valBatches: 4, rspsCandidates: 8, trainLimit: null, syntheticSize: 1000, halvingEpochs: 1, downsample: 1, resolution: 32, lr: null,
      // argmax α (the reference): perturbation derivation was measured on NB201 only (docs/quality.md)
      restart: false, retrainEpochs: 2, pathTuneSteps: 20, derive: 'alpha',
      // ProxylessNAS's 'full' mode on the six blocks without `zero` (every candidate runs, weighted by
      // softmax(α)): with one op drawn per step there the supernet stays at chance at this budget
      // (docs/mobilenet.md, session 4)
      ...(base === 'proxyless' ? { fullNoOpFree: true } : {}),
      // each derived path scored with BN statistics re-estimated for it on 8 training batches: with the
      // supernet's (full-mode mixture) statistics a tuned path scores 16-37 %, recalibrated 50-61 %,
      // for ~0.7 CPU-s a leaf (docs/mobilenet.md, session 5)
      pathBnRecalibrate: 8,
    };
  }
  if (preset === 'tiny') {
    return {
      channels: 4, cells: 1, batchSize: 8, stepsPerEpoch: 1, ...levels([1, 2]), totalEpochs: 3,
      gmRepeats: 1, valBatches: 1, rspsCandidates: 2, trainLimit: null, syntheticSize: 64, halvingEpochs: 1, downsample: 4, lr: null,
      restart: false, retrainEpochs: 1, pathTuneSteps: 1,
    };
  }
  return null;
}

function derive(alpha: ArrayLike<number>, mask: OpMask): Genotype {
  assertMobileMask(mask);
  if (alpha.length !== MASK_ROWS * MASK_COLS) throw new Error(`mobilenet derive: expected ${MASK_ROWS * MASK_COLS} α values, got ${alpha.length}`);
  // per block the enabled op of largest α, first on ties (ProxylessNAS's argmax of its α)
  return Array.from({ length: MASK_ROWS }, (_, d) => {
    let best = -1;
    for (const j of enabledMobileOps(mask, d)) {
      const v = alpha[d * MASK_COLS + j];
      if (Number.isNaN(v)) throw new Error(`mobilenet derive: α of block ${d}, op ${MOBILE_OPS[j]} is NaN`);
      if (best < 0 || v > alpha[d * MASK_COLS + best]) best = j;
    }
    return best;
  });
}

function sampleSinglePath(rng: { next(): number }, mask: OpMask): Genotype {
  assertMobileMask(mask);
  return Array.from({ length: MASK_ROWS }, (_, d) => {
    const ops = enabledMobileOps(mask, d);
    return ops[Math.min(ops.length - 1, Math.floor(rng.next() * ops.length))];
  });
}

function checkDecisionOp(what: string, d: number, op: number): void {
  if (!Number.isInteger(d) || d < 0 || d >= MASK_ROWS) throw new Error(`${what}: block ${d} must be in 0..${MASK_ROWS - 1}`);
  if (!BLOCK_OPS[d].includes(op)) throw new Error(`${what}: block ${d} has no op ${op} (ops ${BLOCK_OPS[d].join(', ')})`);
}

/** `sample` with block `d` running only `op`: at weight 1 (weights·keep + onehot on the device), or at
 *  the weight the sample already gave it (`keepWeight`). */
function replaceDecisionOp(sample: ArchSample, d: number, op: number, keepWeight = false): ArchSample {
  checkDecisionOp('replaceDecisionOp', d, op);
  const ops = sample.ops.map((o, k) => (k === d ? [op] : o));
  const weightOnly = sample.weightOnly?.map((o, k) => (k === d ? [] : o));
  const rest = weightOnly ? { weightOnly } : {};
  if (!sample.weights || keepWeight) return { ops, weights: sample.weights, ...rest };
  const be = sample.weights.backend;
  const keep = new Float32Array(MASK_ROWS * MASK_COLS).fill(1);
  const onehot = new Float32Array(MASK_ROWS * MASK_COLS);
  for (let j = 0; j < MASK_COLS; j++) keep[d * MASK_COLS + j] = 0;
  onehot[d * MASK_COLS + op] = 1;
  const shape = sample.weights.shape;
  return { ops, weights: add(mul(sample.weights, Tensor.fromArray(be, keep, shape)), Tensor.fromArray(be, onehot, shape)), ...rest };
}

function asNetwork(net: SpaceNetwork): MobileNetSpaceNetwork {
  if (!(net instanceof MobileNetSpaceNetwork)) throw new Error('mobilenet: expected a network built by the mobilenet space');
  return net;
}
function asSupernet(sn: SpaceSupernet): MobileNetSpaceSupernet {
  if (!(sn instanceof MobileNetSpaceSupernet)) throw new Error('mobilenet: expected a supernet built by the mobilenet space');
  return sn;
}

function checkSingleOpGenotype(g: Genotype): void {
  assertGenotypeShape(mobilenetSpace, g);
  g.forEach((j, d) => { if (!BLOCK_OPS[d].includes(j)) throw new Error(`mobilenet genotype: block ${d} has op column ${j}; every block needs one of ${BLOCK_OPS[d].join(', ')}`); });
}

export const mobilenetSpace: SearchSpace = Object.freeze({
  name: 'mobilenet',
  title: 'MobileNet (ProxylessNAS)',
  // C is 32·width_mult and N is unused (space-modules.ts): the width multiplier is what a user gave
  describeSize: ({ C }: { C: number; N: number }, sep = '='): string => `width${sep}${widthMultOf(C)}`,
  decisions,
  rows: MASK_ROWS,
  cols: MASK_COLS,
  groups: ['stage1', 'stage2', 'stage3', 'stage4', 'stage5', 'stage6'],
  fullMask: fullMobileMask,
  assertMask: assertMobileMask,
  maskToString: mobileMaskToString,
  parseMask: parseMobileMask,
  enabledOps: enabledMobileOps,
  restrictMask: restrictMobileMask,
  countAdmitted: countMobileAdmitted,
  unsplit: unsplitBlocks,
  maskAdmits: mobileMaskAdmits,
  buildSupernet: (be: Backend, rng: EngineRng, o: SupernetBuildOptions) => new MobileNetSpaceSupernet(be, rng, o),
  buildNetwork: (be: Backend, rng: EngineRng, o: NetworkBuildOptions) => new MobileNetSpaceNetwork(be, rng, o),
  networkDefaults: { C: 32, N: 1 },
  parseGenotype: (text: string): Genotype => parseMobileGenotype(text).map((op) => MOBILE_OPS.indexOf(op.kind === 'zero' ? 'zero' : `${op.kernel}x${op.kernel}_MBConv${op.expand}`)),
  formatGenotype: (g: Genotype): string => { checkSingleOpGenotype(g); return formatMobileGenotype(genotypeOps(g)); },
  derive,
  singlePathSample: (g: Genotype): ArchSample => { checkSingleOpGenotype(g); return { ops: g.map((j) => [j]), weights: null }; },
  sampleSinglePath,
  countSinglePaths: countMobileAdmitted,
  isValidSinglePath: (g: Genotype) => g.length === MASK_ROWS && g.every((j, d) => BLOCK_OPS[d].includes(j)),
  mixedSample: (mask: OpMask, weights: Tensor): ArchSample => {
    assertMobileMask(mask);
    return { ops: Array.from({ length: MASK_ROWS }, (_, d) => enabledMobileOps(mask, d)), weights };
  },
  replaceDecisionOp,
  split,
  // spec §5.2 (ProxylessNAS-GM): weight decay 4e-5 and label smoothing 0.1 for the weight steps, whatever
  // the base method; the ProxylessNAS method's own preset (src/search/presets.ts) has the α settings
  methodHyper: () => ({ weightDecay: 4e-5, labelSmoothing: 0.1 }),
  defaultBase: 'proxyless',
  trainPresets: TRAIN_PRESETS,
  // measured 2026-12-06 (width 0.25, 16×16 Fashion-MNIST, batch 64, 100 steps): lr 0.1 is unstable
  // (loss 5.1 → 2.7, 15 %), lr 0.025 learns (2.47 → 2.14, 26 %); wd as §5.2
  retrainHyper: { lr: 0.025, weightDecay: 4e-5 },
  cost: (g: Genotype, sizes: SpaceSizes, resolution: number) => {
    checkSingleOpGenotype(g);
    return mobileNetCost(genotypeOps(g), { widthMult: widthMultOf(sizes.C), inputChannels: sizes.inputChannels, numClasses: sizes.numClasses }, resolution);
  },
  opMacs: (sizes: SpaceSizes, resolution: number) =>
    mobileNetOpMacs({ widthMult: widthMultOf(sizes.C), inputChannels: sizes.inputChannels, numClasses: sizes.numClasses }, resolution, MOBILE_OPS),
  latencyProbes: mobileLatencyProbes,
  searchPreset: mobileSearchPreset,
  channelsForWidthMult: (w: number): number => {
    const C = FIRST_CONV_WIDTH * w;
    if (!(w > 0) || !Number.isInteger(C)) throw new Error(`width multiplier ${w}: must be a positive multiple of 1/${FIRST_CONV_WIDTH} (0.125, 0.25, 0.5, 0.75, 1, …)`);
    return C;
  },
  checkpointFormats: { network: MOBILENET_FORMAT, supernet: MOBILENET_SUPERNET_FORMAT },
  encodeNetwork: (net: SpaceNetwork, metadata?: Record<string, string>) => encodeMobileNetCheckpoint(asNetwork(net).inner, metadata),
  decodeNetwork: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) => {
    const { network, metadata } = decodeMobileNetCheckpoint(be, rng, bytes, source);
    return { network: new MobileNetSpaceNetwork(be, rng, { inner: network, C: 32 * network.config.widthMult, N: 1 }), metadata };
  },
  loadNetworkInto: (net: SpaceNetwork, bytes: Uint8Array, source: string) => {
    const n = asNetwork(net);
    const { tensors, metadata } = decodeSafetensors(bytes, source);
    const mine = formatMobileGenotype(n.inner.config.genotype);
    if (metadata.format === MOBILENET_FORMAT && metadata.genotype !== mine) {
      throw new Error(`${source}: checkpoint genotype ${metadata.genotype} differs from the model's ${mine}`);
    }
    loadModuleState(n, tensors, source);
    return metadata;
  },
  supernetMetadata: (sn: SpaceSupernet, extra?: Record<string, string>) => mobileSupernetMetadata(asSupernet(sn), extra),
  encodeSupernet: (sn: SpaceSupernet, extra?: SafetensorsInput[], metadata?: Record<string, string>) => encodeMobileSupernet(asSupernet(sn), extra, metadata),
  decodeSupernet: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) => decodeMobileSupernet(be, rng, bytes, source),
});
