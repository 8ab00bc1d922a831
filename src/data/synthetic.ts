// 'synthetic': a built-in, procedural 10-class 32×32 RGB dataset, deterministic by seed. It ships with
// the code (no download, no files) so every command, test and the browser demo have real data to
// search on, and it is built so that CONVOLUTIONS ARE NEEDED: the label is carried by local oriented
// texture, never by global colour or brightness.
//
// Generative model (all draws from Rng(hashSeed(seed, SYNTH_STREAM, split, index)), so image i of a
// split is the same whatever the split's size; the first K images of a 5000-image set are the
// 5000-image set's first K):
//
//   class k ∈ 0..9  →  orientation α = 22.5°·⌊k/2⌋ ∈ {0, 22.5, 45, 67.5, 90}  (wave-vector angle)
//                      band        = k even: 'fine'  (period 3.4–4.2 px)
//                                    k odd:  'coarse' (period 6.0–7.5 px)
//   labels: every block of 10 consecutive images holds each class once, in a seeded random order
//   (exact balance for sizes that are multiples of 10, and no label information in the index order).
//
//   per image:
//     base colour      b_c ~ U(70, 185) independently per channel (so the mean colour is pure noise)
//     background       two plane waves with period U(40, 96) px (well below both class bands), random
//                      direction, phase and colour vector, amplitude U(0, 20): smooth shading, no label
//     2–4 Gabor patches centre ~ U(5, 27)², Gaussian envelope σ ~ U(3.5, 6) px, orientation
//                      ±α + U(−5°, 5°) (the sign is drawn per patch), period from the class band,
//                      phase ~ U(0, 2π), amplitude ~ U(30, 60), a random sign and per-channel tint
//                      (each channel's gain U(0.1, 1)): the only place the label lives
//     pixel noise      zero-mean, std σ_n ~ U(3, 10), independent per pixel and channel (Irwin–Hall(4),
//                      i.e. near-Gaussian)
//     contrast/bright  v ← (v − 128)·U(0.75, 1.25) + 128 + U(−20, 20), then rounded and clamped to 0..255
//
// Why it needs convolutions: a Gabor patch has almost no mean — relative to its envelope's mean it is
// damped by exp(−2π²σ²/period²) ≤ 1.4 % (σ = 3.5, period 7.5), i.e. under 0.1 grey level averaged
// over the image — so per-image channel means and global brightness carry no class information
// (test/data/synthetic.test.ts checks a nearest-class-mean classifier on them stays near chance).
// Telling classes apart takes oriented, frequency-selective filters over several pixels: orientations
// are only 22.5° apart with ±5° jitter, and two bands must be told apart, so the network has to build
// sharp orientation/frequency tuning over a receptive field of several periods. Stacked 3×3
// convolution cells provide that; skip/avg-pool cells are linear and isotropic and add no orientation
// selectivity of their own to the stem and the reduction blocks.
//
// Horizontal flips are label-preserving by construction (a flip maps orientation θ to −θ, and each
// class already contains ±α), so the CIFAR recipe (random crop with 4-pixel padding + flip) applies
// unchanged. Small shifts are label-preserving too (the patches are at random positions).

import { Rng, hashSeed } from './rng.js';
import { DataError, makeDataset, type Dataset, type Normalization } from './dataset.js';

export const SYNTHETIC_SIZE = 32;
export const SYNTHETIC_CLASSES = 10;

/** Per-class generative parameters: wave-vector angle (degrees) and period range (pixels). */
export const SYNTHETIC_CLASS_PARAMS: ReadonlyArray<{ readonly angleDeg: number; readonly band: 'fine' | 'coarse'; readonly period: readonly [number, number] }> =
  Array.from({ length: SYNTHETIC_CLASSES }, (_, k) => ({
    angleDeg: 22.5 * Math.floor(k / 2),
    band: k % 2 === 0 ? 'fine' as const : 'coarse' as const,
    period: k % 2 === 0 ? [3.4, 4.2] as const : [6.0, 7.5] as const,
  }));

export const SYNTHETIC_CLASS_NAMES: readonly string[] = SYNTHETIC_CLASS_PARAMS.map((p) => `${p.band}-${p.angleDeg}deg`);

/**
 * Normalisation constants of the generator (0..1 scale). The model is symmetric in the three channels;
 * measured over seeds 0–7 (8 × 5000 train images) the per-channel means are 0.4997 ± 0.002 and the
 * stds 0.1483 ± 0.0012, and a single seed's 5000 images stay within ±0.005 / ±0.003 of these
 * (test/data/synthetic.test.ts checks it with `channelStats`).
 */
export const SYNTHETIC_NORMALIZATION: Normalization = {
  mean: [0.4997, 0.4997, 0.4997],
  std: [0.1483, 0.1483, 0.1483],
};

export const SYNTHETIC_DEFAULT_SIZES = { train: 5000, test: 1000 } as const;

export interface SyntheticOptions {
  split: 'train' | 'test';
  /** Number of images; default 5000 (train) or 1000 (test). */
  size?: number;
  /** Default 0. Train and test of one seed are disjoint streams. */
  seed?: number;
}

// Stream ids keep the draws of different purposes independent.
const SYNTH_STREAM = 0x5157;
const LABEL_STREAM = 0x1abe;
const SPLIT_ID = { train: 1, test: 2 } as const;

export function generateSynthetic(opts: SyntheticOptions): Dataset {
  const split = opts.split;
  if (split !== 'train' && split !== 'test') throw new DataError(`synthetic: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  const size = opts.size ?? SYNTHETIC_DEFAULT_SIZES[split];
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(size) || size < 0) throw new DataError(`synthetic: size must be a non-negative integer, got ${size}`);
  if (!Number.isSafeInteger(seed)) throw new DataError(`synthetic: seed must be a safe integer, got ${seed}`);

  const S = SYNTHETIC_SIZE, hw = S * S, per = 3 * hw;
  const images = new Uint8Array(size * per);
  const labels = new Int32Array(size);
  const field = new Float32Array(per);
  let blockPerm: Int32Array | null = null;
  for (let i = 0; i < size; i++) {
    if (i % SYNTHETIC_CLASSES === 0) {
      blockPerm = new Rng(hashSeed(seed, LABEL_STREAM, SPLIT_ID[split], i / SYNTHETIC_CLASSES)).permutation(SYNTHETIC_CLASSES);
    }
    const label = blockPerm![i % SYNTHETIC_CLASSES];
    labels[i] = label;
    renderImage(new Rng(hashSeed(seed, SYNTH_STREAM, SPLIT_ID[split], i)), label, field);
    images.set(quantize(field), i * per);
  }
  return makeDataset({
    name: 'synthetic', channels: 3, height: S, width: S, numClasses: SYNTHETIC_CLASSES, size, images, labels,
    mean: [...SYNTHETIC_NORMALIZATION.mean], std: [...SYNTHETIC_NORMALIZATION.std], classNames: [...SYNTHETIC_CLASS_NAMES],
  });
}

const quantBuf = new Uint8Array(3 * SYNTHETIC_SIZE * SYNTHETIC_SIZE);
function quantize(field: Float32Array): Uint8Array {
  for (let p = 0; p < field.length; p++) {
    const v = Math.round(field[p]);
    quantBuf[p] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return quantBuf;
}

const rowCos = new Float64Array(SYNTHETIC_SIZE), rowSin = new Float64Array(SYNTHETIC_SIZE);
const colCos = new Float64Array(SYNTHETIC_SIZE), colSin = new Float64Array(SYNTHETIC_SIZE);

/** Draw one image of class `label` into `field` (3×32×32 floats on the 0..255 scale, before rounding). */
function renderImage(rng: Rng, label: number, field: Float32Array): void {
  const S = SYNTHETIC_SIZE, hw = S * S;
  const TAU = 2 * Math.PI, DEG = Math.PI / 180;

  for (let c = 0; c < 3; c++) field.fill(rng.uniform(70, 185), c * hw, (c + 1) * hw);

  // Smooth shading: long-period plane waves, unrelated to the label.
  for (let w = 0; w < 2; w++) {
    const dir = rng.uniform(0, TAU), period = rng.uniform(40, 96), phase = rng.uniform(0, TAU), amp = rng.uniform(0, 20);
    const col = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
    // cos(kx·x + ky·y + φ) = cos(kx·x)·cos(ky·y + φ) − sin(kx·x)·sin(ky·y + φ): separable, so the
    // trigonometry is per row and per column instead of per pixel.
    const kx = Math.cos(dir) * TAU / period, ky = Math.sin(dir) * TAU / period;
    for (let t = 0; t < S; t++) {
      colCos[t] = Math.cos(kx * t); colSin[t] = Math.sin(kx * t);
      rowCos[t] = Math.cos(ky * t + phase); rowSin[t] = Math.sin(ky * t + phase);
    }
    for (let y = 0; y < S; y++) {
      const rc = amp * rowCos[y], rs = amp * rowSin[y];
      for (let x = 0; x < S; x++) {
        const v = rc * colCos[x] - rs * colSin[x];
        const p = y * S + x;
        field[p] += col[0] * v; field[hw + p] += col[1] * v; field[2 * hw + p] += col[2] * v;
      }
    }
  }

  // The label: Gabor patches of the class orientation (±) and band.
  const cls = SYNTHETIC_CLASS_PARAMS[label];
  const patches = 2 + rng.int(3);
  for (let g = 0; g < patches; g++) {
    const cx = rng.uniform(5, 27), cy = rng.uniform(5, 27), sigma = rng.uniform(3.5, 6);
    const sign = rng.bool() ? 1 : -1;
    const theta = (sign * cls.angleDeg + rng.uniform(-5, 5)) * DEG;
    const period = rng.uniform(cls.period[0], cls.period[1]);
    const phase = rng.uniform(0, TAU), amp = rng.uniform(30, 60) * (rng.bool() ? 1 : -1);
    const gain = [rng.uniform(0.1, 1), rng.uniform(0.1, 1), rng.uniform(0.1, 1)];
    const kx = Math.cos(theta) * TAU / period, ky = Math.sin(theta) * TAU / period;
    const inv2s2 = 1 / (2 * sigma * sigma), reach = 3 * sigma;
    const y0 = Math.max(0, Math.floor(cy - reach)), y1 = Math.min(S - 1, Math.ceil(cy + reach));
    const x0 = Math.max(0, Math.floor(cx - reach)), x1 = Math.min(S - 1, Math.ceil(cx + reach));
    // Envelope and carrier are both separable in x and y (see the background above).
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const e = Math.exp(-dx * dx * inv2s2);
      colCos[x] = e * Math.cos(kx * dx); colSin[x] = e * Math.sin(kx * dx);
    }
    for (let y = y0; y <= y1; y++) {
      const dy = y - cy;
      const e = amp * Math.exp(-dy * dy * inv2s2);
      const rc = e * Math.cos(ky * dy + phase), rs = e * Math.sin(ky * dy + phase);
      for (let x = x0; x <= x1; x++) {
        const v = rc * colCos[x] - rs * colSin[x];
        const p = y * S + x;
        field[p] += gain[0] * v; field[hw + p] += gain[1] * v; field[2 * hw + p] += gain[2] * v;
      }
    }
  }

  // Pixel noise: the sum of the four bytes of one uint32 is Irwin–Hall(4) distributed (mean 510, std
  // 147.8 — close to Gaussian, exact range ±3.45σ), one generator call per value instead of Box–Muller's
  // log/sqrt/cos, which dominated the generation time.
  const noise = rng.uniform(3, 10) / 147.80;
  for (let p = 0; p < field.length; p++) {
    const u = rng.nextU32();
    field[p] += noise * ((u & 255) + ((u >>> 8) & 255) + ((u >>> 16) & 255) + (u >>> 24) - 510);
  }
  const contrast = rng.uniform(0.75, 1.25), brightness = rng.uniform(-20, 20);
  for (let p = 0; p < field.length; p++) field[p] = (field[p] - 128) * contrast + 128 + brightness;
}
