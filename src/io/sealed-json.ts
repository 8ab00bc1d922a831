// JSON result files that carry their own SHA-256: the top-level key `sha256` holds the digest of the
// canonical JSON (src/io/canonical-json.ts) of every other key, so re-indenting the file keeps it
// valid while any changed value is caught. Files without the key (older runs) read as 'absent'.
// Browser-safe.
import { sha256Hex } from './sha256.js';
import { canonicalJson } from './canonical-json.js';

export const JSON_CHECKSUM_KEY = 'sha256';

/** `value` (a JSON object) as text with its `sha256` as the last key. */
export function sealJson(value: object, indent = 1): string {
  const body = { ...(value as Record<string, unknown>) };
  delete body[JSON_CHECKSUM_KEY];
  return JSON.stringify({ ...body, [JSON_CHECKSUM_KEY]: sha256Hex(canonicalJson(body)) }, null, indent);
}

/** Parse a JSON file's text and check its `sha256` when present; errors name `source`. */
export function parseSealedJson<T>(text: string, source: string): { value: T; checksum: 'verified' | 'absent' } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${source}: expected a JSON object`);
  const obj = value as Record<string, unknown>;
  if (!(JSON_CHECKSUM_KEY in obj)) return { value: value as T, checksum: 'absent' };
  const stored = obj[JSON_CHECKSUM_KEY];
  const body = { ...obj };
  delete body[JSON_CHECKSUM_KEY];
  const actual = sha256Hex(canonicalJson(body));
  if (stored !== actual) {
    throw new Error(`${source}: SHA-256 checksum mismatch (stored ${String(stored).slice(0, 12)}…, computed ${actual.slice(0, 12)}…): ` +
      'the file was damaged or edited after it was written');
  }
  return { value: body as T, checksum: 'verified' };
}
