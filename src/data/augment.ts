// Training-time augmentation (random crop with zero padding, horizontal flip) fused with per-channel
// normalisation: one pass from raw uint8 CHW pixels to normalised float32, no intermediate images.
//
// Semantics follow torchvision as GM-NAS uses it (spec §2.1):
//   RandomCrop(H, padding=p): pad every side with p pixels of raw value 0 (black), then take an H×W
//     window at offset (oy, ox), each uniform in {0, …, 2p}. Because the padding is applied before
//     ToTensor/Normalize, padded pixels come out as (0 − mean_c)/std_c, not 0 — reproduced here.
//   RandomHorizontalFlip(0.5): mirror the columns with probability ½.
//   CIFAR order is crop → flip; ImageNet16 order is flip → crop. Both give the same distribution of
//   output images (the horizontal offset ox of one equals 2p − ox of the other), but they consume the
//   random draws in a different order, so the order is kept per dataset.
// Nothing random happens at test time: evaluation samplers only normalise.
//
// Browser-safe: no node: imports.

import type { Rng } from './rng.js';
import { DataError, type Dataset } from './dataset.js';

export interface AugmentSpec {
  /** Zero-padding on every side before the random crop; 0 turns the crop off. */
  readonly padding: number;
  /** Random horizontal flip with probability ½. */
  readonly flip: boolean;
  /** Order of the two random ops; the default is 'crop-flip'. */
  readonly order?: 'crop-flip' | 'flip-crop';
}

/** One image's random draws. */
export interface AugmentDraw {
  /** Crop window offset in the padded image, each in [0, 2·padding]. */
  readonly offY: number;
  readonly offX: number;
  readonly flip: boolean;
}

/**
 * The training augmentation of each dataset.
 *  - cifar10, cifar100, synthetic: crop 32 with padding 4, then flip (GM `utils.py:100-139`). The
 *    synthetic classes are flip-invariant by construction (see synthetic.ts).
 *  - imagenet16-120: flip, then crop 16 with padding 2 (GM `train_search.py:241-248`).
 *  - fashion-mnist (and its embedded subset): crop 28 with padding 4, then flip — the NB201/CIFAR recipe unchanged. A ±4 pixel
 *    shift on 28 pixels is about the relative shift CIFAR gets (±4 on 32), and the garments (tops,
 *    trousers, shoes, bags) are left-right symmetric classes, so mirroring keeps the label; the pad
 *    value 0 is the images' own black background.
 *  - mnist: crop 28 with padding 4, no flip — a mirrored digit is not that digit (2, 3, 4, 5, 7, 9).
 *  - image-folder (ImageNet-style folders, decoded at R×R): crop R with padding R/8 (at least 1), then
 *    flip — the CIFAR ratio (4 on 32); the images come centre-cropped at R, so the shift is what varies.
 * Unknown names get null (no augmentation) rather than a guess. `side`: the images' side (image-folder).
 */
export function defaultAugmentation(datasetName: string, side?: number): AugmentSpec | null {
  switch (datasetName) {
    case 'image-folder':
      return { padding: Math.max(1, Math.round((side ?? 32) / 8)), flip: true, order: 'crop-flip' };
    case 'cifar10': case 'cifar100': case 'synthetic': case 'fashion-mnist': case 'fashion-mnist-embedded':
      return { padding: 4, flip: true, order: 'crop-flip' };
    case 'imagenet16-120':
      return { padding: 2, flip: true, order: 'flip-crop' };
    case 'mnist':
      return { padding: 4, flip: false, order: 'crop-flip' };
    default:
      return null;
  }
}

export function checkAugmentSpec(spec: AugmentSpec, where = 'augment'): void {
  if (!Number.isInteger(spec.padding) || spec.padding < 0) throw new DataError(`${where}: padding must be a non-negative integer, got ${spec.padding}`);
  if (typeof spec.flip !== 'boolean') throw new DataError(`${where}: flip must be a boolean, got ${String(spec.flip)}`);
  if (spec.order !== undefined && spec.order !== 'crop-flip' && spec.order !== 'flip-crop') {
    throw new DataError(`${where}: order must be 'crop-flip' or 'flip-crop', got ${JSON.stringify(spec.order)}`);
  }
}

/** Draw one image's crop offset and flip, in the spec's order (torchvision draws the row offset first). */
export function drawAugmentation(rng: Rng, spec: AugmentSpec): AugmentDraw {
  const span = 2 * spec.padding + 1;
  if (spec.order === 'flip-crop') {
    const flip = spec.flip ? rng.bool() : false;
    const offY = spec.padding > 0 ? rng.int(span) : 0;
    const offX = spec.padding > 0 ? rng.int(span) : 0;
    return { offY, offX, flip };
  }
  const offY = spec.padding > 0 ? rng.int(span) : 0;
  const offX = spec.padding > 0 ? rng.int(span) : 0;
  const flip = spec.flip ? rng.bool() : false;
  return { offY, offX, flip };
}

/**
 * Lookup table of normalised values: lut[c·256 + v] = (v/255 − mean[c]) / std[c], computed in float64
 * and rounded once to float32.
 */
export function normalizationTable(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== std.length) throw new DataError(`normalizationTable: mean has ${mean.length} channels, std has ${std.length}`);
  const lut = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    if (!(std[c] > 0)) throw new DataError(`normalizationTable: std[${c}] must be positive, got ${std[c]}`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return lut;
}

/**
 * Write image `index` of `ds`, augmented by `draw` (null: unchanged) and normalised by `lut`, into
 * `out` at `outOffset` (C·H·W floats, CHW).
 *
 * Source pixel of output (y, x), with p the padding:
 *   row     sy = y + offY − p
 *   column  no flip:     sx = x + offX − p
 *           crop → flip: sx = (W − 1 − x) + offX − p     (mirror the cropped window)
 *           flip → crop: sx = W − 1 + p − x − offX       (crop the mirrored padded image)
 * and a source outside the image is a padding pixel of raw value 0.
 */
export function writeImage(
  ds: Dataset, index: number, out: Float32Array, outOffset: number, lut: Float32Array,
  draw: AugmentDraw | null, spec: AugmentSpec | null,
): void {
  const C = ds.channels, H = ds.height, W = ds.width, hw = H * W;
  const src = ds.images, srcBase = index * C * hw;
  if (draw === null || spec === null) {
    for (let c = 0; c < C; c++) {
      const l = c * 256, s0 = srcBase + c * hw, o0 = outOffset + c * hw;
      for (let p = 0; p < hw; p++) out[o0 + p] = lut[l + src[s0 + p]];
    }
    return;
  }
  const pad = spec.padding;
  const flipFirst = spec.order === 'flip-crop';
  // sx = a + b·x for every output column x.
  let a: number, b: number;
  if (!draw.flip) { a = draw.offX - pad; b = 1; }
  else if (flipFirst) { a = W - 1 + pad - draw.offX; b = -1; }
  else { a = W - 1 + draw.offX - pad; b = -1; }
  for (let c = 0; c < C; c++) {
    const l = c * 256, s0 = srcBase + c * hw, o0 = outOffset + c * hw;
    const padValue = lut[l];
    for (let y = 0; y < H; y++) {
      const sy = y + draw.offY - pad;
      const orow = o0 + y * W;
      if (sy < 0 || sy >= H) { out.fill(padValue, orow, orow + W); continue; }
      const srow = s0 + sy * W;
      for (let x = 0; x < W; x++) {
        const sx = a + b * x;
        out[orow + x] = sx < 0 || sx >= W ? padValue : lut[l + src[srow + sx]];
      }
    }
  }
}
