// ImageNet-style image folders (Node only):
//
//   <root>/train/<class>/*.jpg|*.jpeg|*.png
//   <root>/val/<class>/…                      (the 'test' split)
//
// Classes are the sub-folders of train/, sorted by name (code-point order); label k = the k-th class,
// in both splits (a val class that train/ lacks is an error). Images are decoded with jpeg-js and pngjs
// (pure JS), converted to RGB (alpha dropped, grey and palette expanded by the decoders), then:
//   train: shorter side resized to R, centre crop R×R — the whole image at the training resolution;
//          random crops and flips happen per epoch in the sampler (src/data/augment.ts), not here;
//   val:   shorter side resized to round(R / 0.875), centre crop R×R (the usual ImageNet evaluation).
// Resizing averages the source pixels under each output pixel when shrinking (no aliasing) and
// interpolates bilinearly when enlarging.
//
// A file that does not decode (corrupt, truncated, another format behind the extension) is skipped and
// counted (`skipped`), never fatal; a class folder without any image file, or whose images all fail, is
// a one-line DataError naming the folder.
//
// Decoding is slow, so the decoded split is cached as one uint8 file and later runs (and epochs) read
// that instead: <cacheDir>/imagefolder-<split>-<R>-<key>.u8, written atomically, where <key> is a SHA-256
// over the format version, split, resolution, class names and every listed file's relative path, size
// and modification time — adding, removing, replacing or touching an image gives a new key (the old file
// stays; delete the cache folder to reclaim space). Default cacheDir: <root>/.gmnas-cache.
// Cache file: "GMIF1\n", u32 LE header length, UTF-8 JSON header {split, resolution, classes, size,
// skipped: [{file, reason}]}, then size int32 LE labels, then size·3·R·R pixel bytes (CHW per image).

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { DataError, makeDataset, type Dataset } from '../dataset.js';
import { writeFileAtomic } from '../../io/fs.js';

export const IMAGE_FOLDER_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
const CACHE_MAGIC = 'GMIF1\n';
/** ImageNet's per-channel statistics (0..1 scale), torchvision's constants. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
/** Largest image we agree to decode (megapixels); larger files are skipped as unreadable. */
const MAX_MEGAPIXELS = 100;

export interface ImageFolderOptions {
  split: 'train' | 'test';
  /** output side R (square images) */
  resolution: number;
  /** where the decoded cache goes (default <root>/.gmnas-cache); null: no cache */
  cacheDir?: string | null;
}

export interface SkippedImage { file: string; reason: string }

export interface ImageFolderResult {
  dataset: Dataset;
  /** images that did not decode, relative to the root */
  skipped: SkippedImage[];
  /** whether the pixels came from the cache file */
  fromCache: boolean;
  cachePath: string | null;
}

interface Listing { classes: string[]; files: { rel: string; label: number; size: number; mtimeMs: number }[] }

function isImage(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_FOLDER_EXTENSIONS.some((e) => lower.endsWith(e));
}

function subdirs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name).sort();
}

function listSplit(root: string, split: 'train' | 'test'): Listing {
  const name = 'imagefolder';
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new DataError(`${name}: ${root} is not a directory; set --data-dir to a folder holding train/<class>/ and val/<class>/`, root);
  }
  const trainDir = join(root, 'train');
  if (!existsSync(trainDir) || !statSync(trainDir).isDirectory()) {
    throw new DataError(`${name}: ${trainDir} not found; the folder needs train/<class>/*.jpg|png (and val/<class>/ for evaluation)`, trainDir);
  }
  const classes = subdirs(trainDir);
  if (classes.length === 0) throw new DataError(`${name}: ${trainDir} has no class folders (expected train/<class>/*.jpg|png)`, trainDir);
  const dir = join(root, split === 'train' ? 'train' : 'val');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new DataError(`${name}: ${dir} not found; the ${split} split reads ${split === 'train' ? 'train' : 'val'}/<class>/*.jpg|png`, dir);
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const files: Listing['files'] = [];
  for (const c of subdirs(dir)) {
    const label = index.get(c);
    if (label === undefined) throw new DataError(`${name}: class folder ${join(dir, c)} has no counterpart in ${trainDir} (classes come from train/)`, join(dir, c));
    const images = readdirSync(join(dir, c)).filter(isImage).sort();
    if (images.length === 0) {
      throw new DataError(`${name}: class folder ${join(dir, c)} is empty (no ${IMAGE_FOLDER_EXTENSIONS.join('/')} files)`, join(dir, c));
    }
    for (const f of images) {
      const path = join(dir, c, f);
      const st = statSync(path);
      if (st.isFile()) files.push({ rel: relative(root, path), label, size: st.size, mtimeMs: st.mtimeMs });
    }
  }
  if (split === 'train') {
    const seen = new Set(files.map((f) => f.label));
    const missing = classes.find((_, i) => !seen.has(i));
    if (missing !== undefined) throw new DataError(`${name}: class folder ${join(dir, missing)} is empty`, join(dir, missing));
  }
  return { classes, files };
}

/** RGB pixels (3 bytes each, row-major) of a JPEG or PNG file's bytes; throws when it does not decode. */
export function decodeImage(bytes: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  let width: number, height: number, rgba: Uint8Array;
  const isPng = bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
  if (isPng) {
    const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    ({ width, height } = png);
    rgba = png.data;
  } else if (isJpeg) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: MAX_MEGAPIXELS, maxMemoryUsageInMB: 2048 });
    ({ width, height } = img);
    rgba = img.data;
  } else {
    throw new Error('neither a PNG nor a JPEG signature');
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) throw new Error(`decoded to ${width}×${height} with ${rgba.length} bytes`);
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) { rgb[3 * i] = rgba[j]; rgb[3 * i + 1] = rgba[j + 1]; rgb[3 * i + 2] = rgba[j + 2]; }
  return { width, height, rgb };
}

/**
 * The image scaled so its shorter side is `shorter`, then the centred out×out window, as CHW bytes
 * written into `dst`. Shrinking averages the (fractionally covered) source pixels under each output
 * pixel; enlarging interpolates bilinearly (pixel centres aligned, edges clamped).
 */
export function resizeCenterCrop(src: { width: number; height: number; rgb: Uint8Array }, shorter: number, out: number, dst: Uint8Array): void {
  const { width: w, height: h, rgb } = src;
  const scale = shorter / Math.min(w, h);
  // the crop window in source coordinates
  const side = out / scale;
  const x0 = (w - side) / 2, y0 = (h - side) / 2;
  const plane = out * out;
  for (let oy = 0; oy < out; oy++) {
    for (let ox = 0; ox < out; ox++) {
      const sx0 = x0 + ox / scale, sx1 = x0 + (ox + 1) / scale;
      const sy0 = y0 + oy / scale, sy1 = y0 + (oy + 1) / scale;
      const acc = [0, 0, 0];
      if (scale < 1) {
        // area average with fractional coverage at the borders of the footprint
        let wsum = 0;
        for (let y = Math.max(0, Math.floor(sy0)); y < Math.min(h, Math.ceil(sy1)); y++) {
          const wy = Math.min(y + 1, sy1) - Math.max(y, sy0);
          for (let x = Math.max(0, Math.floor(sx0)); x < Math.min(w, Math.ceil(sx1)); x++) {
            const wgt = wy * (Math.min(x + 1, sx1) - Math.max(x, sx0));
            const p = 3 * (y * w + x);
            acc[0] += wgt * rgb[p]; acc[1] += wgt * rgb[p + 1]; acc[2] += wgt * rgb[p + 2];
            wsum += wgt;
          }
        }
        for (let c = 0; c < 3; c++) acc[c] /= wsum;
      } else {
        const cx = Math.min(w - 1, Math.max(0, (sx0 + sx1) / 2 - 0.5)), cy = Math.min(h - 1, Math.max(0, (sy0 + sy1) / 2 - 0.5));
        const xa = Math.floor(cx), ya = Math.floor(cy), xb = Math.min(w - 1, xa + 1), yb = Math.min(h - 1, ya + 1);
        const fx = cx - xa, fy = cy - ya;
        for (let c = 0; c < 3; c++) {
          const top = rgb[3 * (ya * w + xa) + c] * (1 - fx) + rgb[3 * (ya * w + xb) + c] * fx;
          const bottom = rgb[3 * (yb * w + xa) + c] * (1 - fx) + rgb[3 * (yb * w + xb) + c] * fx;
          acc[c] = top * (1 - fy) + bottom * fy;
        }
      }
      for (let c = 0; c < 3; c++) dst[c * plane + oy * out + ox] = Math.min(255, Math.max(0, Math.round(acc[c])));
    }
  }
}

function cacheKey(listing: Listing, split: string, resolution: number): string {
  const h = createHash('sha256');
  h.update(`${CACHE_MAGIC}${split}\n${resolution}\n${listing.classes.join('/')}\n`);
  for (const f of listing.files) h.update(`${f.rel}\0${f.size}\0${f.mtimeMs}\n`);
  return h.digest('hex').slice(0, 24);
}

function encodeCache(header: object, labels: Int32Array, pixels: Uint8Array): Uint8Array {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const out = new Uint8Array(CACHE_MAGIC.length + 4 + head.length + labels.byteLength + pixels.length);
  out.set(Buffer.from(CACHE_MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(CACHE_MAGIC.length, head.length, true);
  let at = CACHE_MAGIC.length + 4;
  out.set(head, at); at += head.length;
  const lab = new DataView(out.buffer, at, labels.byteLength);
  labels.forEach((v, i) => lab.setInt32(4 * i, v, true));
  at += labels.byteLength;
  out.set(pixels, at);
  return out;
}

interface CacheHeader { split: string; resolution: number; classes: string[]; size: number; skipped: SkippedImage[] }

/** The cache's contents, or null when it is missing, truncated or for something else (then it is rebuilt). */
function readCache(path: string, resolution: number, classes: string[]): { header: CacheHeader; labels: Int32Array; pixels: Uint8Array } | null {
  if (!existsSync(path)) return null;
  const bytes = readFileSync(path);
  if (bytes.length < CACHE_MAGIC.length + 4 || bytes.toString('latin1', 0, CACHE_MAGIC.length) !== CACHE_MAGIC) return null;
  const len = bytes.readUInt32LE(CACHE_MAGIC.length);
  let header: CacheHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', CACHE_MAGIC.length + 4, CACHE_MAGIC.length + 4 + len)) as CacheHeader;
  } catch {
    return null;
  }
  const start = CACHE_MAGIC.length + 4 + len;
  const per = 3 * resolution * resolution;
  if (header.resolution !== resolution || header.classes.join('/') !== classes.join('/') ||
    bytes.length !== start + header.size * 4 + header.size * per) return null;
  const labels = new Int32Array(header.size);
  for (let i = 0; i < header.size; i++) labels[i] = bytes.readInt32LE(start + 4 * i);
  const pixels = new Uint8Array(bytes.buffer, bytes.byteOffset + start + header.size * 4, header.size * per).slice();
  return { header, labels, pixels };
}

/** Read (decoding, or from the cache) one split of an image folder as a dataset of R×R RGB images. */
export function readImageFolder(root: string, opts: ImageFolderOptions): ImageFolderResult {
  const R = opts.resolution;
  if (!Number.isInteger(R) || R < 1 || R > 1024) throw new DataError(`imagefolder: --resolution ${R}: expected an integer in 1..1024`);
  const listing = listSplit(root, opts.split);
  const cacheDir = opts.cacheDir === undefined ? join(root, '.gmnas-cache') : opts.cacheDir;
  const cachePath = cacheDir === null ? null : join(cacheDir, `imagefolder-${opts.split}-${R}-${cacheKey(listing, opts.split, R)}.u8`);
  const make = (labels: Int32Array, pixels: Uint8Array): Dataset => makeDataset({
    name: 'image-folder', channels: 3, height: R, width: R, numClasses: listing.classes.length, size: labels.length,
    images: pixels, labels, mean: IMAGENET_MEAN, std: IMAGENET_STD, classNames: listing.classes,
  });
  const cached = cachePath ? readCache(cachePath, R, listing.classes) : null;
  if (cached) return { dataset: make(cached.labels, cached.pixels), skipped: cached.header.skipped, fromCache: true, cachePath };

  const per = 3 * R * R;
  const pixels = new Uint8Array(listing.files.length * per);
  const labels: number[] = [];
  const skipped: SkippedImage[] = [];
  const shorter = opts.split === 'train' ? R : Math.round(R / 0.875);
  for (const f of listing.files) {
    let img;
    try {
      img = decodeImage(readFileSync(join(root, f.rel)));
    } catch (e) {
      skipped.push({ file: f.rel, reason: (e as Error).message.split('\n')[0] });
      continue;
    }
    resizeCenterCrop(img, shorter, R, pixels.subarray(labels.length * per, (labels.length + 1) * per));
    labels.push(f.label);
  }
  const present = new Set(labels);
  if (opts.split === 'train') {
    const lost = listing.classes.findIndex((_, i) => !present.has(i));
    if (lost >= 0) throw new DataError(`imagefolder: every image of class folder ${join(root, 'train', listing.classes[lost])} failed to decode (${skipped.length} unreadable files in all)`, join(root, 'train', listing.classes[lost]));
  }
  const labelArray = Int32Array.from(labels);
  const used = pixels.slice(0, labels.length * per);
  if (cachePath) {
    const header: CacheHeader = { split: opts.split, resolution: R, classes: listing.classes, size: labels.length, skipped };
    writeFileAtomic(cachePath, encodeCache(header, labelArray, used));
  }
  return { dataset: make(labelArray, used), skipped, fromCache: false, cachePath };
}
