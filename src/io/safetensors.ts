// The safetensors file format, encoded and decoded in memory (no file I/O here; see ./fs.ts):
//   8 bytes   N, the header length, unsigned 64-bit little-endian
//   N bytes   UTF-8 JSON object: name → {"dtype", "shape", "data_offsets": [begin, end]} plus an optional
//             "__metadata__": {string: string}; offsets are relative to the byte after the header
//   rest      the tensors' bytes, little-endian, row-major, back to back
// We write F32 (and F64/I64/I32 when given such arrays, e.g. BatchNorm's int64 `num_batches_tracked`),
// pad the header with spaces so the data starts 8-byte aligned (as the reference writer does), put
// tensors in the order given, and emit compact JSON. We read F64/F32/F16/BF16 and the integer and bool
// dtypes, returning float32 values, and validate everything a hostile or truncated file could get wrong.
// Browser-safe: no node: imports.
//
// Integrity: `sealSafetensors` adds the metadata entry `gmnas_sha256`, the SHA-256 of the header
// without that entry (as canonical JSON: keys sorted, an empty __metadata__ dropped) followed by the
// data section; `decodeSafetensors` checks it whenever it is present and strips it from the returned
// metadata. Files from other writers have no such entry and load as before (checksum: 'absent').
import { Sha256 } from './sha256.js';
import { canonicalJson } from './canonical-json.js';

/** Arrays we can write, by dtype. */
export type SafetensorsData = Float32Array | Float64Array | BigInt64Array | Int32Array;

export interface SafetensorsInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: SafetensorsData;
}

export interface DecodedTensor {
  /** dtype as stored in the file ('F32', 'F16', 'I64', …). */
  readonly dtype: string;
  readonly shape: number[];
  /** The values converted to float32 (exact for F32/F16/BF16, rounded for F64 and large integers). */
  readonly data: Float32Array;
}

export interface DecodedSafetensors {
  /** Tensors in file (data offset) order. */
  readonly tensors: Map<string, DecodedTensor>;
  readonly metadata: Record<string, string>;
  /** whether the file carried a gmnas SHA-256 (then it matched: a mismatch throws) */
  readonly checksum?: 'verified' | 'absent';
}

/** The metadata entry holding a sealed file's SHA-256. */
export const CHECKSUM_KEY = 'gmnas_sha256';

/** SHA-256 of a header object (without the checksum entry) and the data section. */
function headerAndDataDigest(header: Record<string, unknown>, data: Uint8Array): string {
  const h: Record<string, unknown> = { ...header };
  const meta = h[METADATA_KEY] as Record<string, unknown> | undefined;
  if (meta !== undefined) {
    const rest = { ...meta };
    delete rest[CHECKSUM_KEY];
    if (Object.keys(rest).length) h[METADATA_KEY] = rest;
    else delete h[METADATA_KEY];
  }
  return new Sha256().update(canonicalJson(h)).update(data).hex();
}

/** Refuses weights holding NaN or ±Inf (a diverged run saved, or a damaged file without a checksum). */
/** A positive integer read from a checkpoint's metadata (sizes such as C, N, classes); throws naming the
 *  file and the key. Every space's checkpoint decoder reads its sizes through this one check. */
export function metadataPositiveInt(meta: Record<string, string>, key: string, source: string): number {
  const v = Number(meta[key]);
  if (meta[key] === undefined || !Number.isInteger(v) || v < 1) {
    throw new Error(`${source}: metadata '${key}' is ${JSON.stringify(meta[key])}, expected a positive integer`);
  }
  return v;
}

export function assertFiniteTensors(tensors: ReadonlyMap<string, DecodedTensor>, source: string): void {
  for (const [name, t] of tensors) {
    let bad = 0;
    for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i])) bad++;
    if (bad) throw new Error(`${source}: tensor '${name}' holds ${bad} NaN/infinite value${bad === 1 ? '' : 's'} of ${t.data.length}; this checkpoint cannot be used`);
  }
}

/** Adds (or replaces) the `gmnas_sha256` entry of a safetensors image; the tensors' bytes are unchanged. */
export function sealSafetensors(bytes: Uint8Array, sourceName = 'safetensors image'): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = bytes.length >= 8 ? Number(view.getBigUint64(0, true)) : Infinity;
  if (!(8 + headerLength <= bytes.length)) throw new Error(`${sourceName}: not a safetensors image (header length past the end)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${sourceName}: not a safetensors image (${(e as Error).message})`);
  }
  const data = bytes.subarray(8 + headerLength);
  const digest = headerAndDataDigest(header, data);
  header[METADATA_KEY] = { ...(header[METADATA_KEY] as Record<string, string> | undefined), [CHECKSUM_KEY]: digest };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

const METADATA_KEY = '__metadata__';
/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length is likely). */
const MAX_HEADER_BYTES = 100_000_000;

const DTYPE_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(data: SafetensorsData): string {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  throw new Error('unsupported array type');
}

function checkShape(shape: readonly number[], what: string): number {
  if (!Array.isArray(shape)) throw new Error(`${what}: shape must be an array of non-negative integers`);
  let numel = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new Error(`${what}: shape [${shape.join(', ')}] has ${d}, expected non-negative integers`);
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) throw new Error(`${what}: shape [${shape.join(', ')}] has too many elements`);
  return numel;
}

/** Bytes of a typed array as little-endian, copied. */
function littleEndianBytes(data: SafetensorsData): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!littleEndianHost) {
    const w = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += w) bytes.subarray(i, i + w).reverse();
  }
  return bytes;
}

/**
 * One safetensors file image. Names must be unique and non-empty, `__metadata__` is reserved, and each
 * data length must equal the product of its shape (a scalar has shape []).
 */
export function encodeSafetensors(tensors: readonly SafetensorsInput[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`encodeSafetensors: metadata '${k}' must be a string, got ${typeof v}`);
    }
    header[METADATA_KEY] = { ...metadata };
  }
  const seen = new Set<string>();
  const payloads: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const what = `encodeSafetensors: tensor '${t.name}'`;
    if (typeof t.name !== 'string' || t.name === '') throw new Error('encodeSafetensors: every tensor needs a non-empty name');
    if (t.name === METADATA_KEY) throw new Error(`encodeSafetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (seen.has(t.name)) throw new Error(`encodeSafetensors: tensor name '${t.name}' appears twice`);
    seen.add(t.name);
    let dtype: string;
    try {
      dtype = dtypeOf(t.data);
    } catch {
      throw new Error(`${what}: data must be a Float32Array, Float64Array, BigInt64Array or Int32Array`);
    }
    const numel = checkShape(t.shape, what);
    if (numel !== t.data.length) throw new Error(`${what}: shape [${t.shape.join(', ')}] holds ${numel} values but data has ${t.data.length}`);
    const bytes = littleEndianBytes(t.data);
    header[t.name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    payloads.push(bytes);
    offset += bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const p of payloads) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function toFloat32(dtype: string, bytes: Uint8Array, numel: number): Float32Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(numel);
  switch (dtype) {
    case 'F32':
      if (littleEndianHost) out.set(new Float32Array(bytes.slice().buffer));
      else for (let i = 0; i < numel; i++) out[i] = v.getFloat32(4 * i, true);
      break;
    case 'F64': for (let i = 0; i < numel; i++) out[i] = v.getFloat64(8 * i, true); break;
    case 'F16': for (let i = 0; i < numel; i++) out[i] = halfToFloat(v.getUint16(2 * i, true)); break;
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const scratch = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < numel; i++) {
        scratch.setUint32(0, v.getUint16(2 * i, true) << 16);
        out[i] = scratch.getFloat32(0);
      }
      break;
    }
    case 'I64': for (let i = 0; i < numel; i++) out[i] = Number(v.getBigInt64(8 * i, true)); break;
    case 'U64': for (let i = 0; i < numel; i++) out[i] = Number(v.getBigUint64(8 * i, true)); break;
    case 'I32': for (let i = 0; i < numel; i++) out[i] = v.getInt32(4 * i, true); break;
    case 'U32': for (let i = 0; i < numel; i++) out[i] = v.getUint32(4 * i, true); break;
    case 'I16': for (let i = 0; i < numel; i++) out[i] = v.getInt16(2 * i, true); break;
    case 'U16': for (let i = 0; i < numel; i++) out[i] = v.getUint16(2 * i, true); break;
    case 'I8': for (let i = 0; i < numel; i++) out[i] = v.getInt8(i); break;
    case 'U8': case 'BOOL': for (let i = 0; i < numel; i++) out[i] = v.getUint8(i); break;
    default: throw new Error(`unreachable dtype ${dtype}`);
  }
  return out;
}

/** Decodes a safetensors image; `sourceName` (usually the path) names it in every error. With
 *  `requireChecksum`, an image without the gmnas SHA-256 is refused (a flipped bit in the entry's
 *  name would otherwise make a sealed file look unsealed). */
export function decodeSafetensors(bytes: Uint8Array, sourceName: string, o: { requireChecksum?: boolean } = {}): DecodedSafetensors {
  const fail = (what: string): never => {
    throw new Error(`${sourceName}: not a valid safetensors file: ${what}`);
  };
  if (!(bytes instanceof Uint8Array)) fail('expected bytes (Uint8Array)');
  if (bytes.length < 8) fail(`${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(`header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{')) fail(`header must start with '{', found ${JSON.stringify(text.slice(0, 1))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header must be a JSON object');

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`'${METADATA_KEY}' must be an object of strings`);
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`'${METADATA_KEY}' entry '${k}' must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`tensor '${name}' must be an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') fail(`tensor '${name}' has no string 'dtype'`);
    const width = DTYPE_BYTES[dtype as string];
    if (width === undefined) fail(`tensor '${name}' has dtype '${dtype}', which we cannot read (readable: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(`tensor '${name}' has shape ${JSON.stringify(shape)}, expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      fail(`tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, expected [begin, end] non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    if (begin! > end!) fail(`tensor '${name}' has data_offsets [${begin}, ${end}] with begin after end`);
    if (end! > dataLength) fail(`tensor '${name}' ends at byte ${end} of the data section, which has only ${dataLength} bytes`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (numel * width! !== end! - begin!) {
      fail(`tensor '${name}' (${dtype} [${(shape as number[]).join(', ')}]) needs ${numel * width!} bytes but data_offsets span ${end! - begin!}`);
    }
    entries.push({ name, dtype: dtype as string, shape: [...(shape as number[])], begin: begin!, end: end! });
  }
  // The data section must be covered exactly: no overlaps, no holes, nothing after the last tensor.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let coveredBy = '';
  for (const e of entries) {
    if (e.begin < covered) fail(`tensor '${e.name}' [${e.begin}, ${e.end}) overlaps tensor '${coveredBy}', which ends at ${covered}`);
    if (e.begin > covered) fail(`bytes [${covered}, ${e.begin}) of the data section belong to no tensor (before '${e.name}')`);
    covered = e.end;
    coveredBy = e.name;
  }
  if (covered !== dataLength) fail(`the data section has ${dataLength} bytes but the tensors cover only ${covered}`);

  let checksum: 'verified' | 'absent' = 'absent';
  if (metadata[CHECKSUM_KEY] !== undefined) {
    const expected = metadata[CHECKSUM_KEY];
    const actual = headerAndDataDigest(header as Record<string, unknown>, bytes.subarray(dataStart));
    if (actual !== expected) {
      throw new Error(`${sourceName}: SHA-256 checksum mismatch (stored ${expected.slice(0, 12)}…, computed ${actual.slice(0, 12)}…): ` +
        'the file was damaged or changed after it was written');
    }
    delete metadata[CHECKSUM_KEY];
    checksum = 'verified';
  } else if (o.requireChecksum) {
    // gmnas seals every file it writes; an unsealed one is foreign, older, or its checksum entry was damaged
    throw new Error(`${sourceName}: no SHA-256 checksum ('${CHECKSUM_KEY}' metadata): not written by this gmnas, or damaged`);
  }

  const tensors = new Map<string, DecodedTensor>();
  for (const e of entries) {
    const numel = e.shape.reduce((a, b) => a * b, 1);
    const data = toFloat32(e.dtype, bytes.subarray(dataStart + e.begin, dataStart + e.end), numel);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata, checksum };
}
