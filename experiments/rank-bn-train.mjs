// `rank` with every BN in train mode (batch statistics of each validation batch, running statistics
// ignored) — the BN mode `rank` does not offer: without recalibration it scores RSPS leaves as the
// search did (cell BNs on batch statistics, stem / reduction blocks / head on the running statistics
// of the whole supernet's training), and `--bn-recalibrate K` re-estimates those running statistics
// per cell. One of the BN checks of docs/quality.md "Why GM ranks worst". Same output columns as
// `rank` (arch_str,leaf,val_accuracy,val_loss), the same validation batches.
//
//   node experiments/rank-bn-train.mjs RUN ARCHS OUT.csv [VAL_BATCHES]
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { loadRun, leafFor, parseGenotypeList } = await import(join(ROOT, 'dist/src/nas/rank.js'));
const { createNodeMethod, validationData } = await import(join(ROOT, 'dist/src/nas/phases.js'));
const { loadSearchData } = await import(join(ROOT, 'dist/src/nas/search-data.js'));
const { loadMethodCheckpoint } = await import(join(ROOT, 'dist/src/search/checkpoints.js'));
const { createBackend } = await import(join(ROOT, 'dist/src/engine/select-backend.js'));
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const [runDir, archsFile, outFile, valArg] = process.argv.slice(2);
if (!runDir || !archsFile || !outFile) throw new Error('usage: node experiments/rank-bn-train.mjs RUN ARCHS OUT.csv [VAL_BATCHES]');
const run = loadRun(runDir);
const c = run.config;
const valBatches = valArg === undefined ? c.valBatches : Number(valArg);
if (!Number.isInteger(valBatches) || valBatches < 1) throw new Error(`VAL_BATCHES ${valArg}: expected an integer >= 1`);
const { entries, errors } = parseGenotypeList(readFileSync(archsFile, 'utf8'), archsFile);
if (errors.length) throw new Error(`${archsFile}:${errors[0].line}: ${errors[0].message}`);
const data = loadSearchData(c);
const backend = await createBackend('auto', {});
const val = validationData({ ...c, valBatches }, data);
const byLeaf = new Map();
for (const e of entries) {
  const leaf = leafFor(run, e.genotype);
  if (!byLeaf.has(leaf.node)) byLeaf.set(leaf.node, { leaf, items: [] });
  byLeaf.get(leaf.node).items.push(e);
}
const rows = [];
for (const { leaf, items } of [...byLeaf.values()].sort((a, b) => a.leaf.node - b.leaf.node)) {
  const method = createNodeMethod(c, backend, data, leaf.node, leaf.mask);
  try {
    loadMethodCheckpoint(leaf.checkpoint, method);
    for (const e of items) {
      const m = await method.evaluate(val, { arch: e.genotype, bn: 'train' });
      rows.push(`${e.arch},${leaf.node},${m.accuracy},${m.loss}`);
    }
  } finally {
    method.dispose();
  }
}
backend.dispose();
writeFileAtomic(outFile, `arch_str,leaf,val_accuracy,val_loss\n${rows.join('\n')}\n`);
console.error(`wrote ${outFile}: ${rows.length} genotypes, BN in train mode, ${valBatches} validation batches`);
