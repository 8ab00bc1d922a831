// Dataset test files and checks shared by the reader tests (test/data/*, test/faults/fuzz-inputs).
import * as assert from 'uvu/assert';
import { DataError } from '../../src/data/dataset.js';

/** An IDX file: big-endian magic number and dimensions, then the data bytes as given. */
export function idxFile(magic: number, dims: number[], data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, k) => v.setUint32(4 + 4 * k, d, false));
  const out = new Uint8Array(head.length + data.length);
  out.set(head); out.set(data, head.length);
  return out;
}

/** Throws? Then check it is a DataError whose message matches every pattern. */
export function throwsData(fn: () => unknown, ...patterns: RegExp[]): void {
  try { fn(); } catch (e) {
    assert.instance(e, DataError, `expected DataError, got ${String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return;
  }
  assert.unreachable('expected a DataError');
}
