// `node run.js correlate --pred FILE --truth FILE --column COL [--pred-column C] [--top 0.01,0.05,1]`
// Spearman ρ and Kendall τ-b (tie-aware) between predicted scores (the CSV `rank` writes:
// arch_str,leaf,val_accuracy,val_loss) and true scores (any CSV with arch_str, e.g. the NB201
// table), over all shared genotypes and over the top fractions by truth. A table and one JSON line.
import { parseFlags, UsageError, choiceFlag } from './args.js';
import { readTextFile } from '../io/fs.js';
import { parseCsv } from '../io/csv.js';
import type { CsvTable } from '../io/csv.js';
import { readScoreRows, DEDUPE_RULES, type DedupeRule } from '../io/score-rows.js';
import { getSpace } from '../spaces/registry.js';
import { correlateTopFractions } from '../stats/rank.js';

const HELP = `usage: node run.js correlate --pred FILE --truth FILE --column COL [flags]
  --pred FILE          CSV with an arch_str column and a score column (default column: val_accuracy)
  --pred-column C      score column of --pred (default val_accuracy)
  --truth FILE         CSV with an arch_str column (the NB201 table works as it is)
  --column COL         truth column, e.g. cifar10_valid_xvalid
  --top LIST           fractions of the best architectures by truth (default 0.01,0.05,1)
  --lower-is-better    the truth column is a loss/error (ranks reversed)
  --dedupe first|last|mean   a genotype listed twice with different scores: which counts (default: refuse)
  --json               only the JSON line
Rows without a usable score are skipped with a warning naming file:line, and counted.`;

/** Scores by genotype; unusable rows and duplicates are reported on stderr (first lines, then the count). */
function scoresByGenotype(t: CsvTable, column: string, flag: string, dedupe: DedupeRule | undefined): Map<string, number> {
  let r: ReturnType<typeof readScoreRows>;
  try {
    const space = getSpace();
    r = readScoreRows(t, column, { columnFlag: flag, canonical: (g) => space.formatGenotype(space.parseGenotype(g)), ...(dedupe ? { dedupe } : {}) });
  } catch (e) {
    const m = (e as Error).message;
    throw m.startsWith(flag) ? new UsageError(m) : e;
  }
  for (const w of r.warnings.slice(0, MAX_WARNINGS)) process.stderr.write(`warning: ${w}\n`);
  if (r.warnings.length > MAX_WARNINGS) process.stderr.write(`warning: … and ${r.warnings.length - MAX_WARNINGS} more\n`);
  if (r.skipped || r.duplicates) {
    process.stderr.write(`warning: ${t.source}: ${r.skipped} row${r.skipped === 1 ? '' : 's'} without a usable ${column} skipped, ` +
      `${r.duplicates} duplicate genotype${r.duplicates === 1 ? '' : 's'} merged; ${r.scores.size} genotypes used\n`);
  }
  return r.scores;
}

const MAX_WARNINGS = 20;

export async function correlateCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags('correlate', argv, {
    pred: { type: 'string' }, truth: { type: 'string' }, column: { type: 'string' }, 'pred-column': { type: 'string' },
    top: { type: 'string' }, 'lower-is-better': { type: 'boolean' }, dedupe: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) { console.log(HELP); return 0; }
  for (const f of ['pred', 'truth', 'column']) if (!values[f]) throw new UsageError(`correlate: --${f} is required\n${HELP}`);
  const fractions = String(values.top ?? '0.01,0.05,1').split(',').map((s) => {
    const v = Number(s);
    if (!(v > 0 && v <= 1)) throw new UsageError(`--top ${values.top}: '${s}' is not a fraction in (0, 1]`);
    return v;
  });
  const dedupe = values.dedupe === undefined ? undefined : choiceFlag<DedupeRule>(values, 'dedupe', DEDUPE_RULES, 'first');
  const pred = scoresByGenotype(parseCsv(readTextFile(String(values.pred), '--pred file'), String(values.pred)),
    String(values['pred-column'] ?? 'val_accuracy'), '--pred-column', dedupe);
  const truth = scoresByGenotype(parseCsv(readTextFile(String(values.truth), '--truth file'), String(values.truth)),
    String(values.column), '--column', dedupe);
  const shared = [...pred.keys()].filter((k) => truth.has(k));
  if (shared.length < 2) throw new Error(`only ${shared.length} genotypes appear in both ${values.pred} and ${values.truth}; need at least 2`);
  const p = shared.map((k) => pred.get(k)!), t = shared.map((k) => truth.get(k)!);
  const rows = correlateTopFractions(p, t, fractions, !values['lower-is-better']);
  const result = {
    pred: values.pred, truth: values.truth, column: values.column, shared: shared.length,
    rows: rows.map((r) => ({ top: r.fraction, count: r.count, spearman: r.spearman, kendall: r.kendall })),
  };
  if (!values.json) {
    console.log(`${shared.length} genotypes in both files (truth column ${values.column})`);
    console.log(`${'top'.padEnd(8)}${'count'.padStart(7)}${'spearman'.padStart(11)}${'kendall'.padStart(10)}`);
    for (const r of rows) {
      console.log(`${(r.fraction === 1 ? 'all' : `${r.fraction * 100}%`).padEnd(8)}${String(r.count).padStart(7)}` +
        `${r.spearman.toFixed(4).padStart(11)}${r.kendall.toFixed(4).padStart(10)}`);
    }
  }
  console.log(JSON.stringify(result));
  return 0;
}
