// The MobileNet (ProxylessNAS) space as a SearchSpace (src/spaces/space.ts), gmnas-spec.md §5.2:
// 21 decisions, one per searchable block, over MOBILE_OPS (six MBConvs, plus `zero` only on the 15
// blocks with an identity shortcut: ragged rows, padded to 7 columns). GM splits with the balanced
// exact cut (2 then 3 branches: 3+4 / 3+3, then 2+2+3 / 2+2+2), the block of smallest intra-group
// distance, the split op at weight 1. Sizes: C = 32·width_mult, N unused (space-modules.ts).
// docs/mobilenet.md describes the formats.
import { Tensor, add, mul } from '../../engine/index.js';
import type { Backend, Rng as EngineRng } from '../../engine/index.js';
import type { SearchSpace, Decision, OpMask, Genotype, ArchSample, SpaceNetwork, SpaceSupernet, SplitRules, NetworkBuildOptions, SupernetBuildOptions } from '../space.js';
import { assertGenotypeShape } from '../space.js';
import { decodeSafetensors, type SafetensorsInput } from '../../io/safetensors.js';
import { loadModuleState } from '../../engine/index.js';
import { MOBILE_OPS } from './ops.js';
import { macroLayout } from './layout.js';
import { parseGenotype as parseMobileGenotype, formatGenotype as formatMobileGenotype } from './genotype.js';
import { encodeMobileNetCheckpoint, decodeMobileNetCheckpoint, MOBILENET_FORMAT } from './checkpoint.js';
import {
  MASK_ROWS, MASK_COLS, BLOCK_OPS, assertMobileMask, fullMobileMask, enabledMobileOps, restrictMobileMask, countMobileAdmitted,
  unsplitBlocks, mobileMaskAdmits, mobileMaskToString, parseMobileMask,
} from './mask.js';
import {
  MobileNetSpaceNetwork, MobileNetSpaceSupernet, genotypeOps, encodeMobileSupernet, decodeMobileSupernet, mobileSupernetMetadata,
  MOBILENET_SUPERNET_FORMAT,
} from './space-modules.js';

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
