// Datasets in a page (or a worker): the embedded Fashion-MNIST subset fetched from the served package
// (data/fashion-mnist/, gzip IDX), and the IDX or CIFAR binary files a user picks. Browser-safe: fetch,
// DecompressionStream('gzip') and crypto.subtle only (all in Chromium, Firefox and Safari, in pages and
// workers). Every failure is a DataError whose message names the file and says what was expected.

import { DataError, makeDataset, channelStats, NORMALIZATION, type Dataset } from '../data/dataset.js';
import { IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, FASHION_MNIST_CLASS_NAMES, MNIST_CLASS_NAMES, parseIdx, checkIdxPair, idxMagic } from '../data/idx-format.js';
import { decodeCifarBatch, cifarRecordBytes, CIFAR_PIXELS, CIFAR10_CLASS_NAMES, CIFAR100_CLASS_NAMES, type CifarKind } from '../data/cifar-format.js';

/** Where loading stands: `loaded` of `total` bytes of `file` (total null when the server did not say). */
export interface DataLoadProgress {
  stage: 'download' | 'verify' | 'decompress' | 'parse' | 'done';
  file: string;
  loaded: number;
  total: number | null;
}
export type DataProgressListener = (p: DataLoadProgress) => void;

/** The embedded set's folder, next to the bundle in the package (dist/../data/fashion-mnist/). */
export function embeddedDataUrl(): URL {
  return new URL('../data/fashion-mnist/', import.meta.url);
}

/** The registry name of the embedded subset (the CLI's `--dataset fashion-mnist-embedded`). */
export const EMBEDDED_DATASET_NAME = 'fashion-mnist-embedded';

export const EMBEDDED_TRAIN_FILES = { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' } as const;

/** The bytes at `url`, reporting download progress; a clear error for HTTP failures. */
export async function fetchBytes(url: string | URL, onProgress?: DataProgressListener): Promise<Uint8Array> {
  const name = String(url);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new DataError(`cannot fetch ${name}: ${(e as Error).message}`, name);
  }
  if (!res.ok) throw new DataError(`cannot fetch ${name}: HTTP ${res.status} ${res.statusText}`.trim(), name);
  const header = res.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (!res.body) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ stage: 'download', file: name, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ stage: 'download', file: name, loaded, total });
  }
  return concat(chunks, loaded);
}

function concat(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** True when `bytes` start with the gzip magic (1f 8b). */
export const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** gzip data decompressed with the platform's DecompressionStream; other data returned as it is. */
export async function gunzipIfNeeded(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  if (typeof DecompressionStream !== 'function') throw new DataError(`${file}: this browser has no DecompressionStream to unpack gzip; decompress the file first`, file);
  try {
    const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DataError(`${file} looks gzip-compressed but does not decompress: ${(e as Error).message}`, file);
  }
}

/** SHA-256 of `bytes` as lowercase hex. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as BufferSource);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** `sha256sum` output (`<hex>  <name>` per line) as name → hex. */
export function parseSha256Sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (m) out.set(m[2], m[1]);
  }
  return out;
}

export interface EmbeddedLoadOptions {
  /** the folder holding the files (default: `embeddedDataUrl()`) */
  baseUrl?: string | URL;
  /** keep only the first `limit` images */
  limit?: number;
  /** check the files against SHA256SUMS (default true; ~10 MB of hashing, tens of ms) */
  verify?: boolean;
  onProgress?: DataProgressListener;
}

/**
 * The embedded Fashion-MNIST training subset (12 000 images, 28×28, 10 classes) as a Dataset, fetched
 * with progress, checked against its SHA-256 sums, gunzipped with DecompressionStream and parsed with
 * the project's IDX parser.
 */
export async function loadEmbeddedFashionMnist(o: EmbeddedLoadOptions = {}): Promise<Dataset> {
  const base = new URL(String(o.baseUrl ?? embeddedDataUrl()), typeof location !== 'undefined' ? location.href : undefined);
  const urlOf = (name: string): URL => new URL(name, base);
  const sums = o.verify === false ? null : parseSha256Sums(new TextDecoder().decode(await fetchBytes(urlOf('SHA256SUMS'))));
  const files = [EMBEDDED_TRAIN_FILES.images, EMBEDDED_TRAIN_FILES.labels];
  // both downloads report one combined progress (the images are 99.9 % of the bytes)
  const sizes = new Map<string, { loaded: number; total: number | null }>();
  const report = (): void => {
    let loaded = 0, total = 0, known = true;
    for (const s of sizes.values()) { loaded += s.loaded; if (s.total === null) known = false; else total += s.total; }
    o.onProgress?.({ stage: 'download', file: 'fashion-mnist', loaded, total: known && sizes.size === files.length ? total : null });
  };
  const raw = await Promise.all(files.map((f) => fetchBytes(urlOf(f), (p) => { sizes.set(f, { loaded: p.loaded, total: p.total }); report(); })));
  if (sums) {
    o.onProgress?.({ stage: 'verify', file: 'fashion-mnist', loaded: 0, total: null });
    for (let i = 0; i < files.length; i++) {
      const want = sums.get(files[i]);
      if (!want) throw new DataError(`fashion-mnist: ${urlOf('SHA256SUMS')} lists no sum for ${files[i]}`, files[i]);
      const got = await sha256Hex(raw[i]);
      if (got !== want) throw new DataError(`fashion-mnist: ${urlOf(files[i])} has SHA-256 ${got}, expected ${want} (SHA256SUMS): a damaged or different file`, files[i]);
    }
  }
  o.onProgress?.({ stage: 'decompress', file: 'fashion-mnist', loaded: 0, total: null });
  const [images, labels] = await Promise.all(files.map((f, i) => gunzipIfNeeded(raw[i], f)));
  o.onProgress?.({ stage: 'parse', file: 'fashion-mnist', loaded: 0, total: null });
  // named as the Node reader of the same files names it (src/data/readers/embedded.ts), so results say
  // which images they were searched on
  const ds = idxDataset(EMBEDDED_DATASET_NAME, { name: files[0], bytes: images }, { name: files[1], bytes: labels }, o.limit);
  o.onProgress?.({ stage: 'done', file: 'fashion-mnist', loaded: ds.size, total: ds.size });
  return ds;
}

/** One file as a page has it: a name (for messages) and its bytes. */
export interface NamedBytes { name: string; bytes: Uint8Array }

function idxDataset(name: 'fashion-mnist-embedded' | 'fashion-mnist' | 'mnist', images: NamedBytes, labels: NamedBytes, limit?: number): Dataset {
  const img = parseIdx(images.bytes, IDX_IMAGES_MAGIC, images.name, name);
  const lab = parseIdx(labels.bytes, IDX_LABELS_MAGIC, labels.name, name);
  const { count, height, width } = checkIdxPair(img, lab, images.name, labels.name, name);
  const size = Math.min(count, limit ?? Infinity);
  const norm = NORMALIZATION[name].gm;
  return makeDataset({
    name, channels: 1, height, width, numClasses: 10, size,
    images: img.data.slice(0, size * height * width), labels: Int32Array.from(lab.data.subarray(0, size)),
    mean: [...norm.mean], std: [...norm.std], classNames: [...(name === 'mnist' ? MNIST_CLASS_NAMES : FASHION_MNIST_CLASS_NAMES)],
  });
}

/** What a set of user files was recognised as. */
export type PickedFormat = 'idx' | 'cifar10' | 'cifar100';

const CIFAR100_NAMES = /^(train|test)\.bin$/i;
const CIFAR10_NAMES = /^(data_batch_\d+|test_batch)\.bin$/i;

/** The CIFAR kind a binary file is, from its name when it is a distributed one, else from its size. */
function cifarKindOf(f: NamedBytes): CifarKind | null {
  const base = f.name.split(/[\\/]/).pop() ?? f.name;
  if (CIFAR10_NAMES.test(base)) return 'cifar10';
  if (CIFAR100_NAMES.test(base)) return 'cifar100';
  const fits = (k: CifarKind): boolean => f.bytes.length > 0 && f.bytes.length % cifarRecordBytes(k) === 0;
  if (fits('cifar10') && !fits('cifar100')) return 'cifar10';
  if (fits('cifar100') && !fits('cifar10')) return 'cifar100';
  return null;
}

/**
 * A training set from files a user picked: an IDX pair (images idx3 + labels idx1, plain or .gz; MNIST
 * unless a name says "fashion") or CIFAR-10/100 binary batches (one or more .bin files of one kind).
 * Anything else fails with a message naming the file and what was expected.
 */
export async function datasetFromFiles(picked: readonly NamedBytes[], o: { limit?: number } = {}): Promise<{ dataset: Dataset; format: PickedFormat }> {
  if (!picked.length) throw new DataError('no files chosen: pick an IDX pair (train-images-idx3-ubyte + train-labels-idx1-ubyte, plain or .gz) or CIFAR binary batches (data_batch_*.bin)');
  const files = await Promise.all(picked.map(async (f) => ({ name: f.name, bytes: await gunzipIfNeeded(f.bytes, f.name) })));
  const magics = files.map((f) => idxMagic(f.bytes));
  const idxImages = files.filter((_, i) => magics[i] === IDX_IMAGES_MAGIC);
  const idxLabels = files.filter((_, i) => magics[i] === IDX_LABELS_MAGIC);
  if (idxImages.length || idxLabels.length) {
    const others = files.filter((_, i) => magics[i] !== IDX_IMAGES_MAGIC && magics[i] !== IDX_LABELS_MAGIC);
    if (others.length) throw new DataError(`${others[0].name}: not an IDX file (magic ${hexMagic(others[0].bytes)}); pick only the images and labels IDX files`, others[0].name);
    if (idxImages.length !== 1 || idxLabels.length !== 1) {
      throw new DataError(`an IDX dataset needs exactly one images file (magic 2051, e.g. train-images-idx3-ubyte) and one labels file (magic 2049, e.g. train-labels-idx1-ubyte); got ${idxImages.length} images and ${idxLabels.length} labels file(s): ${files.map((f) => f.name).join(', ')}`);
    }
    // nothing inside an IDX file says which set it is: a file name with "fashion" picks Fashion-MNIST's
    // class names, else MNIST's; the normalisation is the files' own statistics either way
    const name = /fashion/i.test(idxImages[0].name) || /fashion/i.test(idxLabels[0].name) ? 'fashion-mnist' : 'mnist';
    const ds = idxDataset(name, idxImages[0], idxLabels[0], o.limit);
    const stats = channelStats(ds);
    if (!(stats.std[0] > 0)) throw new DataError(`${idxImages[0].name}: every pixel has the same value; nothing to learn from`, idxImages[0].name);
    return { dataset: makeDataset({ ...ds, mean: stats.mean, std: stats.std }), format: 'idx' };
  }
  const kinds = files.map(cifarKindOf);
  const unknown = files.findIndex((_, i) => kinds[i] === null);
  if (unknown >= 0) {
    const f = files[unknown];
    throw new DataError(`${f.name}: neither an IDX file (its first 4 bytes are ${hexMagic(f.bytes)}, expected 0x00000803 images / 0x00000801 labels) ` +
      `nor a CIFAR binary batch (${f.bytes.length} bytes is not a multiple of ${cifarRecordBytes('cifar10')} (CIFAR-10) or ${cifarRecordBytes('cifar100')} (CIFAR-100))`, f.name);
  }
  if (new Set(kinds).size > 1) throw new DataError(`the chosen files mix CIFAR-10 and CIFAR-100 batches (${files.map((f, i) => `${f.name}: ${kinds[i]}`).join(', ')}); pick one kind`);
  const kind = kinds[0] as CifarKind;
  // distributed order: data_batch_1 … 5 (the order torchvision uses), whatever order the picker gave
  const ordered = files.slice().sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const parts = ordered.map((f) => decodeCifarBatch(f.bytes, kind, f.name));
  const total = Math.min(parts.reduce((n, p) => n + p.labels.length, 0), o.limit ?? Infinity);
  const images = new Uint8Array(total * CIFAR_PIXELS);
  const labels = new Int32Array(total);
  let n = 0;
  for (const p of parts) {
    const take = Math.min(p.labels.length, total - n);
    images.set(p.images.subarray(0, take * CIFAR_PIXELS), n * CIFAR_PIXELS);
    labels.set(p.labels.subarray(0, take), n);
    n += take;
  }
  const norm = NORMALIZATION[kind].gm;
  const dataset = makeDataset({
    name: kind, channels: 3, height: 32, width: 32, numClasses: kind === 'cifar10' ? 10 : 100, size: total, images, labels,
    mean: [...norm.mean], std: [...norm.std], classNames: [...(kind === 'cifar10' ? CIFAR10_CLASS_NAMES : CIFAR100_CLASS_NAMES)],
  });
  return { dataset, format: kind };
}

function hexMagic(bytes: Uint8Array): string {
  return `0x${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The bytes of a page's File objects (from an <input type="file"> or a drop). */
export async function readPickedFiles(files: Iterable<File>): Promise<NamedBytes[]> {
  return Promise.all([...files].map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) })));
}

/**
 * The images centred on a zero background grown to the next multiple of `multiple` in height and
 * width (the same dataset when they already fit). The NB201 networks halve the resolution twice, and a
 * search may shrink the images by an integer factor first, so 28×28 Fashion-MNIST becomes 32×32 for a
 * factor of 2 (32 → 16 → 8 → 4); Fashion-MNIST's background is 0, so nothing is lost or invented.
 */
export function padToMultiple(ds: Dataset, multiple: number): Dataset {
  if (!Number.isInteger(multiple) || multiple < 1) throw new DataError(`padToMultiple: multiple must be a positive integer, got ${multiple}`);
  const H = Math.ceil(ds.height / multiple) * multiple, W = Math.ceil(ds.width / multiple) * multiple;
  if (H === ds.height && W === ds.width) return ds;
  const top = Math.floor((H - ds.height) / 2), left = Math.floor((W - ds.width) / 2);
  const images = new Uint8Array(ds.size * ds.channels * H * W);
  for (let p = 0; p < ds.size * ds.channels; p++) {
    for (let y = 0; y < ds.height; y++) {
      const src = (p * ds.height + y) * ds.width;
      images.set(ds.images.subarray(src, src + ds.width), (p * H + y + top) * W + left);
    }
  }
  // zero padding lowers the pixel mean and spread a little; the carried constants stay those of the
  // set as distributed, as in the usual "pad MNIST to 32×32" recipe
  return makeDataset({ ...ds, height: H, width: W, images });
}
