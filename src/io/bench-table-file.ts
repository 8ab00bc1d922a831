// Reads a NAS-Bench-201 table from disk (`--bench FILE`, `--truth FILE`). The parser is fs-free and lives
// with the space (src/spaces/nb201/bench-table.ts) so browser bundles can use it on fetched text.

import { readTextFile } from './fs.js';
import { parseBenchCsv, type BenchTable } from '../spaces/nb201/bench-table.js';

export function loadBenchTable(path: string): BenchTable {
  return parseBenchCsv(readTextFile(path, 'benchmark table'), path);
}
