// `node run.js query --bench FILE --arch G [--json]`: the benchmark row of one genotype, one
// `column  value` line per column (or one JSON object with --json). The genotype may be given in any
// form parseGenotype accepts; lookups are by genotype, not by text. Exit 1 when the table has no row
// for it, 2 on a malformed genotype or flag.
import { parseFlags, UsageError } from './args.js';
import { loadBenchTable } from '../io/bench-table-file.js';
import { parseCsvNumber } from '../io/csv.js';
import { getSpace, type Genotype } from '../spaces/registry.js';

const HELP = `usage: node run.js query --bench FILE --arch '<genotype>' [--json]
  --bench FILE   NAS-Bench-201 table in the nb201.csv format (an arch_str column, any other columns)
  --arch G       NB201 genotype, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'
  --json         one JSON object (numbers as numbers) instead of one line per column`;

export async function queryCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('query', argv, {
    bench: { type: 'string' }, arch: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { console.log(HELP); return 0; }
  if (positionals.length) throw new UsageError(`query: unexpected argument '${positionals[0]}' (see \`node run.js query --help\`)`);
  for (const f of ['bench', 'arch']) if (!values[f]) throw new UsageError(`query: --${f} is required\n${HELP}`);
  let genotype: Genotype;
  try {
    genotype = getSpace().parseGenotype(String(values.arch));
  } catch (e) {
    throw new UsageError(`--arch: ${(e as Error).message}`);
  }
  let table;
  try {
    table = loadBenchTable(String(values.bench));
  } catch (e) {
    throw new Error(`--bench: ${(e as Error).message}`);
  }
  const row = table.find(genotype);
  if (!row) {
    console.error(`gmnas query: ${values.bench} has no row for ${getSpace().formatGenotype(genotype)} (${table.size} rows)`);
    return 1;
  }
  const fields = table.columns.map((c) => [c, table.field(row, c)] as const);
  if (values.json) {
    const out: Record<string, string | number> = {};
    for (const [c, text] of fields) {
      const v = c === 'arch_str' ? undefined : parseCsvNumber(text);
      out[c] = v === undefined ? text : v;
    }
    console.log(JSON.stringify(out));
  } else {
    const width = Math.max(...table.columns.map((c) => c.length));
    for (const [c, text] of fields) console.log(`${c.padEnd(width)}  ${text}`);
  }
  return 0;
}
