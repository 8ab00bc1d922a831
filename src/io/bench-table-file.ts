// Reads a benchmark table from disk (`--bench FILE`, `--truth FILE`). The parser is fs-free and lives
// with the space (its parseBenchTable) so browser bundles can use it on fetched text.

import { readTextFile } from './fs.js';
import { getSpace, type BenchTable } from '../spaces/registry.js';

export function loadBenchTable(path: string, spaceName?: string): BenchTable {
  const space = getSpace(spaceName);
  if (!space.parseBenchTable) throw new Error(`${path}: the ${space.title} space has no benchmark table`);
  return space.parseBenchTable(readTextFile(path, 'benchmark table'), path);
}
