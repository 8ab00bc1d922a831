// The MobileNet network and supernet as the SearchSpace sees them (SpaceNetwork / SpaceSupernet).
// Each adapter adopts the children of the module it wraps under the same names, so its state_dict
// is exactly ProxylessNASNets' (network) or SuperProxylessNASNets' (supernet) and the checkpoints of
// network.ts / checkpoint.ts apply unchanged; the wrapped module stays reachable (`.inner`) for the
// ProxylessNAS binary-gate search (proxyless.ts), which drives per-block paths directly.
//
// Sizes: the interface's C is the first conv's width at width multiplier 1 scaled, i.e.
// width_mult = C / 32 (C = 32: the paper's network; the tiny preset's C = 4 gives the narrowest
// network, 8 channels where make_divisible floors). N is unused (the stage table fixes the depth).
// `trackCellStats` is recorded but every BN tracks running statistics, as in ProxylessNAS.
import { Tensor, Module, copyModuleState, moduleStateTensors, loadOwnStateKeepExtra, globalAvgPool as globalPool } from '../../engine/index.js';
import type { Backend, Rng as EngineRng } from '../../engine/index.js';
import { encodeSafetensors, decodeSafetensors, type SafetensorsInput, type DecodedTensor } from '../../io/safetensors.js';
import type { ArchSample, NetworkBuildOptions, SpaceNetwork, SpaceSupernet, SupernetBuildOptions } from '../space.js';
import { MobileNetNetwork } from './network.js';
import { MobileNetSupernet } from './supernet.js';
import { heFanOutInit, zeroLastBnGamma } from './init.js';
import { FIRST_CONV_WIDTH } from './layout.js';
import { MOBILE_OPS, parseOp } from './ops.js';
import type { MobileGenotype } from './genotype.js';
import {
  assertMobileMask, fullMobileMask, mobileMaskToString, parseMobileMask, MASK_ROWS, MASK_COLS, type OpMask,
} from './mask.js';

/** width_mult the interface's C stands for. */
export function widthMultOf(C: number): number {
  if (!(Number.isFinite(C) && C > 0)) throw new Error(`MobileNet: C ${C} must be a positive number (C = 32·width_mult)`);
  return C / FIRST_CONV_WIDTH;
}

/** Op columns → ops (every block has one; −1 never occurs in this space). */
export function genotypeOps(g: readonly number[]): MobileGenotype {
  if (g.length !== MASK_ROWS) throw new Error(`MobileNet genotype has ${g.length} entries, expected ${MASK_ROWS}`);
  return g.map((j, d) => {
    if (!Number.isInteger(j) || j < 0 || j >= MOBILE_OPS.length) throw new Error(`MobileNet genotype: block ${d} has op column ${j}, expected 0..${MOBILE_OPS.length - 1}`);
    return parseOp(MOBILE_OPS[j]);
  });
}

/** The space's initialisation (init.ts): ProxylessNAS's he_fout, then γ = 0 on the last BN of every
 *  residual branch (our choice, not ProxylessNAS's; measured on the quick sizes, docs/mobilenet.md).
 *  Stand-alone networks: with the engine's default init and γ = 1 a network at lr 0.1 spikes to loss 4.5
 *  and ends at 23 % after 100 steps; with both, 37 %. Supernets (session 4): together with held paths in
 *  the blocks without a shortcut (proxyless holdSteps) it is what lets the quick supernet learn (loss
 *  1.8 after 40 steps instead of 2.6); every candidate of a block with a shortcut starts as the identity,
 *  so before any training step a candidate's inner weights get no gradient (only its last BN's γ and β
 *  do) — GM's first split comes after the warm-up, when γ has moved. Checkpoints loaded afterwards
 *  overwrite all of it. */
function initMobileNet(m: Module, rng: EngineRng, zeroResidualGamma: boolean): void {
  heFanOutInit(m, rng);
  if (zeroResidualGamma) zeroLastBnGamma(m);
}

export class MobileNetSpaceNetwork extends Module implements SpaceNetwork {
  readonly inner: MobileNetNetwork;
  readonly config: Readonly<NetworkBuildOptions>;
  constructor(readonly backend: Backend, rng: EngineRng, o: NetworkBuildOptions | { inner: MobileNetNetwork; C: number; N: number }) {
    super();
    if ('inner' in o) {
      this.inner = o.inner;
    } else {
      this.inner = new MobileNetNetwork(backend, rng, {
        genotype: genotypeOps(o.genotype), widthMult: widthMultOf(o.C), inputChannels: o.inputChannels, numClasses: o.numClasses,
      });
      initMobileNet(this.inner, rng, true);
    }
    const c = this.inner.config;
    this.config = Object.freeze({
      C: o.C, N: o.N, inputChannels: c.inputChannels, numClasses: c.numClasses,
      genotype: Object.freeze(c.genotype.map((op) => MOBILE_OPS.indexOf(op.kind === 'zero' ? 'zero' : `${op.kernel}x${op.kernel}_MBConv${op.expand}`))),
    });
    this.child('first_conv', this.inner.firstConv);
    this.child('blocks', this.inner.blocks);
    this.child('feature_mix_layer', this.inner.featureMix);
    this.child('classifier', this.inner.classifier);
  }
  forward(x: Tensor): Tensor { return this.inner.forward(x); }
}

export type MobileNetSpaceSupernetConfig = Readonly<Required<SupernetBuildOptions>>;

export class MobileNetSpaceSupernet extends Module implements SpaceSupernet {
  readonly inner: MobileNetSupernet;
  readonly config: MobileNetSpaceSupernetConfig;
  readonly mask: OpMask;
  constructor(readonly backend: Backend, rng: EngineRng, o: SupernetBuildOptions) {
    super();
    const mask = o.mask ? o.mask.slice() : fullMobileMask();
    assertMobileMask(mask, 'MobileNet supernet mask');
    this.mask = mask;
    this.inner = new MobileNetSupernet(backend, rng, { widthMult: widthMultOf(o.C), inputChannels: o.inputChannels, numClasses: o.numClasses });
    initMobileNet(this.inner, rng, true);
    this.config = Object.freeze({ C: o.C, N: o.N, inputChannels: o.inputChannels, numClasses: o.numClasses, trackCellStats: o.trackCellStats, mask });
    this.child('first_conv', this.inner.firstConv);
    this.child('blocks', this.inner.blockList);
    this.child('feature_mix_layer', this.inner.featureMix);
    this.child('classifier', this.inner.classifier);
  }

  /** Logits for `sample`: per block the listed op columns, weighted by `sample.weights` [21, 7]. */
  forward(x: Tensor, sample: ArchSample): Tensor {
    this.checkSample(sample);
    if (x.rank !== 4 || x.shape[1] !== this.config.inputChannels) {
      throw new Error(`MobileNet supernet: input [${x.shape.join(', ')}] must be [N, ${this.config.inputChannels}, H, W]`);
    }
    const sn = this.inner;
    let h = sn.firstBlock.forward(sn.firstConv.forward(x));
    sn.blocks.forEach((b, d) => { h = b.forwardOps(h, sample.ops[d], sample.weights, d * MASK_COLS); });
    return sn.classifier.forward(globalPool(sn.featureMix.forward(h)));
  }

  checkSample(sample: ArchSample): void {
    if (!sample || !Array.isArray(sample.ops) || sample.ops.length !== MASK_ROWS) {
      throw new Error(`MobileNet ArchSample: ops must list the ops of each of the ${MASK_ROWS} searchable blocks`);
    }
    if (sample.weightOnly && sample.weightOnly.some((o) => o.length > 0)) {
      throw new Error('MobileNet ArchSample: weightOnly ops (GDAS straight-through) are not supported on this space');
    }
    sample.ops.forEach((ops, d) => {
      if (ops.length === 0) throw new Error(`MobileNet ArchSample: block ${d} runs no op`);
      if (new Set(ops).size !== ops.length) throw new Error(`MobileNet ArchSample: block ${d} lists an op twice: [${ops.join(', ')}]`);
      for (const j of ops) {
        if (!Number.isInteger(j) || j < 0 || j >= MASK_COLS || this.mask[d * MASK_COLS + j] !== 1) {
          throw new Error(`MobileNet ArchSample: block ${d} runs op ${MOBILE_OPS[j] ?? j}, which this supernet's mask ${mobileMaskToString(this.mask)} disables`);
        }
      }
    });
    if (sample.weights && sample.weights.size !== MASK_ROWS * MASK_COLS) {
      throw new Error(`MobileNet ArchSample: weights [${sample.weights.shape.join(', ')}] must hold ${MASK_ROWS}×${MASK_COLS} values`);
    }
  }

  /**
   * GM's shared parameters when scoring block `decision` (spec §5.2, ProxylessNAS-GM's
   * super_proxyless.py): first conv (with the fixed first block), the candidates of every other
   * block (ops that did not run on the sampled path get no gradient, so only the active ones count),
   * the feature-mix layer and the classifier. −1 excludes no block.
   */
  sharedParameters(decision: number): Tensor[] {
    if (!Number.isInteger(decision) || decision < -1 || decision >= MASK_ROWS) {
      throw new Error(`sharedParameters: block ${decision} must be -1 or 0..${MASK_ROWS - 1}`);
    }
    const sn = this.inner;
    return [
      ...sn.firstConv.parameters(), ...sn.firstBlock.parameters(),
      ...sn.blocks.flatMap((b, d) => (d === decision ? [] : b.parameters())),
      ...sn.featureMix.parameters(), ...sn.classifier.parameters(),
    ];
  }

  copyStateFrom(source: SpaceSupernet): void {
    if (!(source instanceof MobileNetSpaceSupernet)) throw new Error('copyStateFrom: source is not a MobileNet supernet');
    const a = this.config, b = source.config;
    for (const k of ['C', 'inputChannels', 'numClasses'] as const) {
      if (a[k] !== b[k]) throw new Error(`copyStateFrom: source supernet has ${k} ${b[k]}, this one ${a[k]}`);
    }
    copyModuleState(this, source);
  }
}

// ---- supernet checkpoints ---------------------------------------------------------------------

export const MOBILENET_SUPERNET_FORMAT = 'gmnas.mobilenet.supernet/1';

export function mobileSupernetMetadata(s: MobileNetSpaceSupernet, extra: Record<string, string> = {}): Record<string, string> {
  const c = s.config;
  return {
    ...extra,
    format: MOBILENET_SUPERNET_FORMAT,
    mask: mobileMaskToString(s.mask),
    C: String(c.C), N: String(c.N), width_mult: String(widthMultOf(c.C)),
    input_channels: String(c.inputChannels), num_classes: String(c.numClasses), track_cell_stats: String(c.trackCellStats),
  };
}

export async function encodeMobileSupernet(s: MobileNetSpaceSupernet, extra: SafetensorsInput[] = [], metadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors([...await moduleStateTensors(s), ...extra], mobileSupernetMetadata(s, metadata));
}

function metaNumber(meta: Record<string, string>, key: string, source: string, integer: boolean): number {
  const v = Number(meta[key]);
  if (meta[key] === undefined || !(v > 0) || (integer && !Number.isInteger(v))) {
    throw new Error(`${source}: metadata '${key}' is ${JSON.stringify(meta[key])}, expected a positive ${integer ? 'integer' : 'number'}`);
  }
  return v;
}

export function decodeMobileSupernet(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string):
  { supernet: MobileNetSpaceSupernet; metadata: Record<string, string>; extra: Map<string, DecodedTensor> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MOBILENET_SUPERNET_FORMAT) {
    throw new Error(`${source}: metadata 'format' is ${JSON.stringify(metadata.format)}, expected '${MOBILENET_SUPERNET_FORMAT}' (a MobileNet supernet checkpoint)`);
  }
  if (metadata.track_cell_stats !== 'true' && metadata.track_cell_stats !== 'false') {
    throw new Error(`${source}: metadata 'track_cell_stats' is ${JSON.stringify(metadata.track_cell_stats)}, expected 'true' or 'false'`);
  }
  let mask: OpMask;
  try {
    mask = parseMobileMask(metadata.mask ?? '');
  } catch (e) {
    throw new Error(`${source}: metadata 'mask': ${(e as Error).message}`);
  }
  const supernet = new MobileNetSpaceSupernet(be, rng, {
    C: metaNumber(metadata, 'C', source, false), N: metaNumber(metadata, 'N', source, true),
    inputChannels: metaNumber(metadata, 'input_channels', source, true), numClasses: metaNumber(metadata, 'num_classes', source, true),
    trackCellStats: metadata.track_cell_stats === 'true', mask,
  });
  const extra = loadOwnStateKeepExtra(supernet, tensors, source);
  return { supernet, metadata, extra };
}
