// Canonical JSON: object keys sorted (by UTF-16 code units) at every depth, no whitespace. Two
// structurally equal values give the same text whatever their key order or indentation — what the
// SHA-256 of a result file or a safetensors header is computed over. Browser-safe.
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as object).sort()) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = sortKeys(x);
  }
  return out;
}
