// Node file I/O for results and checkpoints. Writes are atomic: the bytes go to a temporary file in the
// same directory (same file system, so rename is atomic), are fsync'ed, and the temporary file is renamed
// over the target. A reader therefore sees the old file or the new one, never a torn one — which is what
// `--resume` relies on after a crash mid-write. Node-only (the format code itself is in ./safetensors.ts).

import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { encodeSafetensors, decodeSafetensors, sealSafetensors, type SafetensorsInput, type DecodedSafetensors } from './safetensors.js';

let tempCounter = 0;

/** fsync a directory so a rename inside it is durable; some platforms cannot, which is not an error. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows and some file systems refuse to open or fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `data` to `path` atomically (temp file `<path>.tmp-<pid>-<thread>-<n>` + fsync + rename),
 * creating the parent directory if needed. On failure the temp file is removed and the error names
 * `path`. The thread id keeps worker threads (each with its own counter) that write the same file —
 * the leaf workers' autotune cache — off each other's temp files.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const dir = dirname(path);
  const temp = join(dir, `${basename(path)}.tmp-${process.pid}-${threadId}-${tempCounter++}`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    fd = openSync(temp, 'w');
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (e) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* already failing; keep the first error */ }
    }
    try { unlinkSync(temp); } catch { /* the temp file may not exist */ }
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
  syncDirectory(dir);
}

/** `JSON.stringify(value, null, indent)` plus a final newline, written atomically. */
export function writeJsonAtomic(path: string, value: unknown, indent = 2): void {
  const text = JSON.stringify(value, null, indent);
  if (text === undefined) throw new Error(`cannot write ${path}: the value is not JSON-serialisable`);
  writeFileAtomic(path, `${text}\n`);
}

/** Reads a whole file; the error names the file and what it was supposed to be. */
export function readFileBytes(path: string, what = 'file'): Uint8Array {
  try {
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export function readTextFile(path: string, what = 'file'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export function readJsonFile(path: string, what = 'JSON file'): unknown {
  const text = readTextFile(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Encodes, seals (SHA-256 in the metadata, checked by every load) and atomically writes a safetensors file. */
export function saveSafetensors(path: string, tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): void {
  let bytes: Uint8Array;
  try {
    bytes = sealSafetensors(encodeSafetensors(tensors, metadata), path);
  } catch (e) {
    throw new Error(`cannot write ${path}: ${(e as Error).message}`);
  }
  writeFileAtomic(path, bytes);
}

export function loadSafetensors(path: string, o: { requireChecksum?: boolean } = {}): DecodedSafetensors {
  return decodeSafetensors(readFileBytes(path, 'safetensors file'), path, o);
}
