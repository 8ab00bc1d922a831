// The Fashion-MNIST subset committed in the repository (data/fashion-mnist/: the first 12 000 training
// images and the whole 10 000-image test set, IDX gzip; see its README.md). It is gmnas's default
// dataset, `--dataset fashion-mnist-embedded`, so a run reads the same bytes on every machine: each
// file is checked against data/fashion-mnist/SHA256SUMS before it is parsed, and a missing or altered
// file is a DataError naming it. Node only.
//
// `--dataset fashion-mnist` without `--data-dir` prefers the full Debian copy and falls back to this
// subset (resolveFashionMnistDir).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { DataError, type Dataset } from '../dataset.js';
import { FASHION_MNIST_DEFAULT_DIR, readIdxDataset, FASHION_MNIST_CLASS_NAMES } from './idx.js';
import type { ReaderOptions } from './cifar.js';

export const EMBEDDED_DATASET = 'fashion-mnist-embedded';

/** The four IDX files the embedded subset consists of; SHA256SUMS lists exactly these. */
export const EMBEDDED_FILES = [
  'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz',
] as const;

/** Images in the embedded subset (data/fashion-mnist/README.md). */
export const EMBEDDED_SIZES = { train: 12000, test: 10000 } as const;

/**
 * data/fashion-mnist/ of the package. This module runs from dist/src/data/readers/ (and from
 * src/data/readers/ under a TypeScript loader): both are four levels below the package root.
 */
export function embeddedFashionMnistDir(): string {
  return fileURLToPath(new URL('../../../../data/fashion-mnist/', import.meta.url));
}

/** `name → hex digest` from a `sha256sum`-format file (two spaces or ' *' between digest and name). */
export function parseSha256Sums(text: string, file: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (!m) throw new DataError(`${EMBEDDED_DATASET}: ${file} line ${i + 1} is not '<sha256>  <file name>'`, file);
    sums.set(m[2], m[1]);
  });
  return sums;
}

/** Check one file of `dir` against its SHA256SUMS entry; returns its bytes (still gzip-compressed). */
function verifiedBytes(dir: string, name: string, sums: Map<string, string>, sumsPath: string): Buffer {
  const path = join(dir, name);
  const expected = sums.get(name);
  if (expected === undefined) throw new DataError(`${EMBEDDED_DATASET}: ${sumsPath} has no checksum for ${name}`, sumsPath);
  if (!existsSync(path)) {
    throw new DataError(`${EMBEDDED_DATASET}: ${path} is missing (part of the repository's embedded Fashion-MNIST; restore it with \`git checkout -- data/fashion-mnist\`)`, path);
  }
  const bytes = readFileSync(path);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expected) {
    throw new DataError(`${EMBEDDED_DATASET}: ${path} is corrupt: SHA-256 ${actual}, expected ${expected} (from ${sumsPath}); restore it with \`git checkout -- data/fashion-mnist\``, path);
  }
  return bytes;
}

/**
 * Check the two files of `opts.split` in `dir` (default: the package's data/fashion-mnist/) against
 * SHA256SUMS there, then read them. The Dataset is named 'fashion-mnist-embedded'.
 */
export function readEmbeddedFashionMnist(opts: ReaderOptions, dir = embeddedFashionMnistDir()): Dataset {
  const sumsPath = join(dir, 'SHA256SUMS');
  if (!existsSync(sumsPath)) {
    throw new DataError(`${EMBEDDED_DATASET}: ${sumsPath} is missing (the embedded Fashion-MNIST's checksums; restore it with \`git checkout -- data/fashion-mnist\`)`, sumsPath);
  }
  const sums = parseSha256Sums(readFileSync(sumsPath, 'utf8'), sumsPath);
  const prefix = opts.split === 'train' ? 'train' : 't10k';
  const files = { images: `${prefix}-images-idx3-ubyte.gz`, labels: `${prefix}-labels-idx1-ubyte.gz` };
  const bytes = { images: verifiedBytes(dir, files.images, sums, sumsPath), labels: verifiedBytes(dir, files.labels, sums, sumsPath) };
  return readIdxDataset(EMBEDDED_DATASET, dir, opts, FASHION_MNIST_CLASS_NAMES, 'fashion-mnist', {
    images: { path: join(dir, files.images), bytes: bytes.images },
    labels: { path: join(dir, files.labels), bytes: bytes.labels },
  });
}

/** Where `--dataset fashion-mnist` reads when no --data-dir is given: the full Debian copy when it is
 *  installed, else the embedded subset. */
export function resolveFashionMnistDir(): { dir: string; embedded: boolean } {
  const debian = ['train-images-idx3-ubyte.gz', 'train-images-idx3-ubyte'].some((f) => existsSync(join(FASHION_MNIST_DEFAULT_DIR, f)));
  return debian ? { dir: FASHION_MNIST_DEFAULT_DIR, embedded: false } : { dir: embeddedFashionMnistDir(), embedded: true };
}
