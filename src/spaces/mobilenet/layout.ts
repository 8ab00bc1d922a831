// The macro structure of the MobileNet (ProxylessNAS) space, gmnas-spec.md §5.2 and ProxylessNAS's
// SuperProxylessNASNets: first conv 3×3 stride 2 to 32 channels → a fixed MBConv1 (3×3, expansion 1)
// block to 16 → 21 searchable blocks in six stages of widths 24/40/80/96/192/320, 4/4/4/4/4/1 blocks,
// the stage's stride (2/2/2/1/2/1) on its first block → feature-mix 1×1 conv to 1280 → global average
// pool → linear classifier. A block has an identity shortcut (and may then be `zero`) exactly when its
// stride is 1 and its channel count does not change: 15 of the 21 blocks at any width.
// Channel counts scale by --width-mult with ProxylessNAS's make_divisible(·, 8); the feature-mix width
// stays 1280 unless the multiplier exceeds 1. Browser-safe.

export const STAGE_WIDTHS = [24, 40, 80, 96, 192, 320] as const;
export const STAGE_DEPTHS = [4, 4, 4, 4, 4, 1] as const;
export const STAGE_STRIDES = [2, 2, 2, 1, 2, 1] as const;
export const NUM_SEARCHABLE_BLOCKS = 21;
export const FIRST_CONV_WIDTH = 32;
export const FIRST_BLOCK_WIDTH = 16;
export const FEATURE_MIX_WIDTH = 1280;
/** ProxylessNAS's BN setting (bn_param = (momentum 0.1, eps 1e-3)). */
export const BN_EPS = 1e-3;
export const BN_MOMENTUM = 0.1;

export interface MobileNetSize {
  /** channel multiplier (1 = the paper's network) */
  widthMult: number;
  inputChannels: number;
  numClasses: number;
}

export interface BlockLayout {
  /** searchable block index 0..20 (ProxylessNAS's blocks.{index + 1}) */
  index: number;
  stage: number;
  cin: number;
  cout: number;
  stride: number;
  /** identity shortcut: stride 1 and cin = cout; only these blocks may be `zero` */
  identity: boolean;
}

/** ProxylessNAS's make_divisible: round to the nearest multiple of `divisor` (at least `divisor`),
 *  one step up when that loses more than 10 %. */
export function makeDivisible(v: number, divisor = 8): number {
  let r = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (r < 0.9 * v) r += divisor;
  return r;
}

/** Throws a one-line error naming the flag unless the sizes are usable. */
export function checkSize(s: MobileNetSize): void {
  if (!(Number.isFinite(s.widthMult) && s.widthMult > 0 && s.widthMult <= 4)) {
    throw new Error(`--width-mult ${s.widthMult}: expected a number in (0, 4]`);
  }
  if (!Number.isInteger(s.inputChannels) || s.inputChannels < 1) throw new Error(`input channels ${s.inputChannels}: expected a positive integer`);
  if (!Number.isInteger(s.numClasses) || s.numClasses < 1) throw new Error(`classes ${s.numClasses}: expected a positive integer`);
}

export interface MacroLayout {
  firstConv: number;
  firstBlock: number;
  blocks: BlockLayout[];
  featureMix: number;
}

export function macroLayout(widthMult: number): MacroLayout {
  const firstConv = makeDivisible(FIRST_CONV_WIDTH * widthMult);
  const firstBlock = makeDivisible(FIRST_BLOCK_WIDTH * widthMult);
  const blocks: BlockLayout[] = [];
  let cin = firstBlock;
  STAGE_WIDTHS.forEach((w, stage) => {
    const cout = makeDivisible(w * widthMult);
    for (let j = 0; j < STAGE_DEPTHS[stage]; j++) {
      const stride = j === 0 ? STAGE_STRIDES[stage] : 1;
      blocks.push({ index: blocks.length, stage, cin, cout, stride, identity: stride === 1 && cin === cout });
      cin = cout;
    }
  });
  const featureMix = widthMult > 1 ? makeDivisible(FEATURE_MIX_WIDTH * widthMult) : FEATURE_MIX_WIDTH;
  return { firstConv, firstBlock, blocks, featureMix };
}

/** Spatial size after a k×k conv with padding k//2 and `stride` (PyTorch's formula). */
export function convOut(size: number, kernel: number, stride: number): number {
  return Math.floor((size + 2 * Math.floor(kernel / 2) - kernel) / stride) + 1;
}

/** Throws unless the resolution is usable (the network divides it by 32 overall). */
export function checkResolution(r: number): void {
  if (!Number.isInteger(r) || r < 1 || r > 1024) throw new Error(`--resolution ${r}: expected an integer in 1..1024`);
}
