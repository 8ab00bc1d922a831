// File access shared by the dataset readers (Node only): locating the distributed files, reading them
// (transparently gunzipping), and turning every failure into a DataError that names the file and says
// which flag to set.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DataError } from '../dataset.js';

/** The command-line flag that points a reader at its files (named in every "not found" message). */
export const DATA_DIR_FLAG = '--data-dir';

/** Fail with a clear message unless `dir` is an existing directory. `expects` says what should be in it. */
export function requireDir(dataset: string, dir: string | undefined, expects: string): string {
  if (dir === undefined || dir === '') {
    throw new DataError(`${dataset}: no data directory given; set ${DATA_DIR_FLAG} to the folder that holds ${expects}`);
  }
  if (!existsSync(dir)) throw new DataError(`${dataset}: data directory ${dir} does not exist; set ${DATA_DIR_FLAG} to the folder that holds ${expects}`, dir);
  if (!statSync(dir).isDirectory()) throw new DataError(`${dataset}: ${dir} is not a directory; set ${DATA_DIR_FLAG} to the folder that holds ${expects}`, dir);
  return dir;
}

/**
 * The first of `names` that exists in `dir`, as a full path; otherwise a DataError listing every name
 * tried and the flag to set.
 */
export function findFile(dataset: string, dir: string, names: readonly string[]): string {
  for (const name of names) {
    const p = join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  const tried = names.length === 1 ? names[0] : `any of ${names.join(', ')}`;
  throw new DataError(`${dataset}: ${join(dir, names[0])} not found (looked for ${tried} in ${dir}); set ${DATA_DIR_FLAG} to the folder that holds the ${dataset} files`, join(dir, names[0]));
}

/** If `dir/sub` is a directory holding `probe`, the distribution's own folder layout: use it. */
export function descendInto(dir: string, sub: string, probe: string): string {
  const inner = join(dir, sub);
  return !existsSync(join(dir, probe)) && existsSync(join(inner, probe)) ? inner : dir;
}

/** Size in bytes of a file (on disk; for .gz files the compressed size). */
export function fileSize(path: string): number {
  return statSync(path).size;
}

/** Read a whole file; gzip data (magic 1f 8b) is decompressed, whatever the file name. */
export function readBytes(dataset: string, path: string): Uint8Array {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new DataError(`${dataset}: cannot read ${path}: ${(e as Error).message}`, path);
  }
  return gunzipBytes(dataset, path, raw);
}

/** `raw` decompressed when it is gzip data (magic 1f 8b), else unchanged; `path` names it in errors. */
export function gunzipBytes(dataset: string, path: string, raw: Uint8Array): Uint8Array {
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      const out = gunzipSync(raw);
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    } catch (e) {
      throw new DataError(`${dataset}: ${path} looks gzip-compressed but does not decompress: ${(e as Error).message}`, path);
    }
  }
  return raw;
}

/** Lines of an optional text file (class-name lists), or null when it is absent. */
export function readOptionalLines(path: string): string[] | null {
  if (!existsSync(path)) return null;
  return readFileSync(path, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
}
