// Genotype → score from a CSV (the --pred and --truth files of `correlate`): every row that cannot be
// used (empty, non-numeric or NaN score) is reported by file:line and counted, never dropped in silence,
// and a genotype listed twice with different scores is refused unless a --dedupe rule says which wins.
// Browser-safe.
import { csvColumnIndex, parseCsvNumber, type CsvTable } from './csv.js';

export const DEDUPE_RULES = ['first', 'last', 'mean'] as const;
export type DedupeRule = (typeof DEDUPE_RULES)[number];

export interface ScoreRows {
  scores: Map<string, number>;
  /** one line per skipped row or merged duplicate, `file:line: …` */
  warnings: string[];
  skipped: number;
  duplicates: number;
}

export function readScoreRows(t: CsvTable, column: string, o: { dedupe?: DedupeRule; columnFlag: string; /** the genotype's canonical text (the space's parse → format); throws on a malformed one */ canonical: (genotype: string) => string }): ScoreRows {
  const arch = csvColumnIndex(t, 'arch_str');
  let col: number;
  try { col = csvColumnIndex(t, column); } catch (e) { throw new Error(`${o.columnFlag}: ${(e as Error).message}`); }
  const seen = new Map<string, { line: number; values: number[] }>();
  const warnings: string[] = [];
  let skipped = 0, duplicates = 0;
  for (const r of t.records) {
    let key: string;
    try { key = o.canonical(r.fields[arch] ?? ''); } catch (e) { throw new Error(`${t.source}:${r.line}: ${(e as Error).message}`); }
    const field = r.fields[col] ?? '';
    const v = parseCsvNumber(field);
    if (v === undefined) {
      skipped++;
      warnings.push(`${t.source}:${r.line}: skipped: ${column} is ${field.trim() === '' ? 'empty' : `'${field}', not a number`}`);
      continue;
    }
    const prev = seen.get(key);
    if (!prev) { seen.set(key, { line: r.line, values: [v] }); continue; }
    duplicates++;
    if (prev.values.every((x) => x === v)) {
      warnings.push(`${t.source}:${r.line}: duplicate of line ${prev.line} (same ${column}); counted once`);
      continue;
    }
    if (!o.dedupe) {
      throw new Error(`${t.source}:${r.line}: ${key} is also on line ${prev.line} with a different ${column} (${v} vs ${prev.values[0]}); ` +
        `give --dedupe first|last|mean to say which counts`);
    }
    prev.values.push(v);
    warnings.push(`${t.source}:${r.line}: duplicate of line ${prev.line} with a different ${column}; --dedupe ${o.dedupe}`);
  }
  const scores = new Map<string, number>();
  for (const [key, { values }] of seen) {
    const rule = o.dedupe ?? 'first';
    scores.set(key, rule === 'first' ? values[0] : rule === 'last' ? values[values.length - 1] : values.reduce((a, b) => a + b, 0) / values.length);
  }
  return { scores, warnings, skipped, duplicates };
}
