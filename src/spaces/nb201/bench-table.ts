// A NAS-Bench-201 result table in the CSV format of ../shared/data/nb201/nb201.csv: one row per cell, an
// `arch_str` column holding NB201's genotype string, any other columns (`index`, `cifar10_test`, …) in
// any order. The same reader serves any CSV keyed by `arch_str` (prediction files of `rank`, truth files
// of `correlate`). Lookups normalise through parse/format, so a genotype given as op indices or as a
// string finds its row. Browser-safe: the file reader is `loadBenchTable` in src/io/bench-table-file.ts.

import { parseCsv, csvColumnIndex, parseCsvNumber, type CsvTable } from '../../io/csv.js';
import { parseGenotype, formatGenotype, genotypeKey, type Genotype } from './genotype.js';

export const ARCH_COLUMN = 'arch_str';
export const INDEX_COLUMN = 'index';

export interface BenchRow {
  /** 0-based position in the table (and in every array `column()` returns). */
  readonly position: number;
  /** 1-based line of the source file. */
  readonly line: number;
  /** Canonical genotype string (as in the file; it must already be canonical). */
  readonly archStr: string;
  readonly genotype: Genotype;
  /** The `index` column when the table has one (the NB201 / NATS-Bench topology index). */
  readonly index: number | undefined;
}

export class BenchTable {
  readonly source: string;
  /** Every column name, in file order. */
  readonly columns: readonly string[];
  readonly rows: readonly BenchRow[];
  private readonly csv: CsvTable;
  private readonly byKey = new Map<string, BenchRow>();
  private readonly byIndex = new Map<number, BenchRow>();
  private readonly numericCache = new Map<string, Float64Array>();

  /** Use `parseBenchCsv`; this constructor expects a parsed CSV and validates the rows. */
  constructor(csv: CsvTable) {
    this.csv = csv;
    this.source = csv.source;
    this.columns = csv.header;
    const archCol = csvColumnIndex(csv, ARCH_COLUMN);
    const indexCol = csv.header.indexOf(INDEX_COLUMN);
    const rows: BenchRow[] = [];
    csv.records.forEach((rec, position) => {
      const archStr = rec.fields[archCol]!;
      let genotype: Genotype;
      try {
        genotype = parseGenotype(archStr);
      } catch (e) {
        throw new Error(`${csv.source}:${rec.line}: column ${ARCH_COLUMN}: ${(e as Error).message}`);
      }
      let index: number | undefined;
      if (indexCol >= 0) {
        const v = parseCsvNumber(rec.fields[indexCol]!);
        if (v === undefined || !Number.isInteger(v) || v < 0) {
          throw new Error(`${csv.source}:${rec.line}: column ${INDEX_COLUMN}: '${rec.fields[indexCol]}' is not a non-negative integer`);
        }
        const prev = this.byIndex.get(v);
        if (prev) throw new Error(`${csv.source}:${rec.line}: column ${INDEX_COLUMN}: index ${v} repeats line ${prev.line}`);
        index = v;
      }
      const row: BenchRow = { position, line: rec.line, archStr, genotype, index };
      const key = genotypeKey(genotype);
      const prev = this.byKey.get(key);
      if (prev) throw new Error(`${csv.source}:${rec.line}: column ${ARCH_COLUMN}: genotype repeats line ${prev.line}`);
      this.byKey.set(key, row);
      if (index !== undefined) this.byIndex.set(index, row);
      rows.push(row);
    });
    this.rows = rows;
  }

  get size(): number {
    return this.rows.length;
  }

  /**
   * The row of a genotype (op indices or an NB201 string); undefined when the table lacks it. A
   * malformed string throws (with parseGenotype's message): it cannot be in any table.
   */
  find(arch: string | Genotype): BenchRow | undefined {
    const g = typeof arch === 'string' ? parseGenotype(arch) : arch;
    return this.byKey.get(genotypeKey(g));
  }

  /** Like `find`, but a genotype missing from the table throws naming the table. */
  get(arch: string | Genotype): BenchRow {
    const row = this.find(arch);
    if (!row) throw new Error(`${this.source}: no row for ${typeof arch === 'string' ? arch : formatGenotype(arch)}`);
    return row;
  }

  /** The row whose `index` column equals `index`; undefined when absent or the table has no such column. */
  findByIndex(index: number): BenchRow | undefined {
    return this.byIndex.get(index);
  }

  hasColumn(name: string): boolean {
    return this.columns.includes(name);
  }

  /**
   * A numeric column, in row order. Throws when the column does not exist (listing the numeric ones)
   * or when a field is not a number (naming file, line and column).
   */
  column(name: string): Float64Array {
    const cached = this.numericCache.get(name);
    if (cached) return cached;
    if (!this.columns.includes(name)) {
      throw new Error(`${this.source}: no column '${name}' (numeric columns: ${this.numericColumns().join(', ') || 'none'})`);
    }
    const c = this.columns.indexOf(name);
    const out = new Float64Array(this.rows.length);
    this.csv.records.forEach((rec, i) => {
      const v = parseCsvNumber(rec.fields[c]!);
      if (v === undefined) throw new Error(`${this.source}:${rec.line}: column ${name}: '${rec.fields[c]}' is not a number`);
      out[i] = v;
    });
    this.numericCache.set(name, out);
    return out;
  }

  /** Columns whose every field is a number (the ones `column()` accepts). */
  numericColumns(): string[] {
    return this.columns.filter((name, c) => name !== ARCH_COLUMN &&
      this.csv.records.every((rec) => parseCsvNumber(rec.fields[c]!) !== undefined));
  }

  /** The numeric value of `columnName` for a genotype; undefined when the genotype is not in the table. */
  value(arch: string | Genotype, columnName: string): number | undefined {
    const values = this.column(columnName);
    const row = this.find(arch);
    return row ? values[row.position] : undefined;
  }

  /** A field as written in the file. */
  field(row: BenchRow, columnName: string): string {
    return this.csv.records[row.position]!.fields[csvColumnIndex(this.csv, columnName)]!;
  }
}

/** Parses a benchmark table from CSV text; `sourceName` names it in every error. */
export function parseBenchCsv(text: string, sourceName: string): BenchTable {
  return new BenchTable(parseCsv(text, sourceName));
}
