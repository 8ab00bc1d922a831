// The parameter-count floor of experiments/ranking.sh --curve: every architecture of ARCHS scored by its
// NB201 parameter count at the network size of the search RUN (C, N, input channels, classes), written
// as a CSV that `correlate --pred FILE --pred-column parameters` reads.
//
//   node experiments/param-scores.mjs ARCHS RUN OUT.csv
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { parseGenotypeList } = await import(join(ROOT, 'dist/src/nas/rank.js'));
const { parseGenotype } = await import(join(ROOT, 'dist/src/spaces/nb201/genotype.js'));
const { networkParamCount } = await import(join(ROOT, 'dist/src/spaces/nb201/params.js'));
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const [archs, run, out] = process.argv.slice(2);
if (!archs || !run || !out) throw new Error('usage: node experiments/param-scores.mjs ARCHS RUN OUT.csv');
const r = JSON.parse(readFileSync(join(run, 'result.json'), 'utf8'));
const size = { C: r.config.channels, N: r.config.cells, inputChannels: r.dataset.imageShape[0], numClasses: r.dataset.classes };
const { entries } = parseGenotypeList(readFileSync(archs, 'utf8'), archs);
const rows = [...new Set(entries.map((e) => e.arch))].map((a) => `${a},${networkParamCount(parseGenotype(a), size)}`);
writeFileAtomic(out, `arch_str,parameters\n${rows.join('\n')}\n`);
