// Prints the genotypes of an architecture list file (the format `rank --archs` reads), canonical and
// without duplicates, one per line; unreadable lines are reported on stderr with their line number and
// skipped. Shared by the shell experiments (ranking.sh, retrain-seeds.sh), which read its output with
// `mapfile`, so both parse a list exactly as `rank` does.
//
//   node experiments/genotype-list.mjs ARCHS_FILE
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const file = process.argv[2];
if (!file) {
  console.error('usage: node experiments/genotype-list.mjs ARCHS_FILE');
  process.exit(2);
}
const { parseGenotypeList } = await import(join(ROOT, 'dist/src/nas/rank.js'));
const { entries, errors } = parseGenotypeList(readFileSync(file, 'utf8'), file);
for (const e of errors) console.error(`${file}:${e.line}: skipped: ${e.message}`);
for (const a of new Set(entries.map((e) => e.arch))) console.log(a);
