// Re-derive the leaves of finished searches with another derivation (default: perturbation,
// src/search/perturbation.ts) from their saved checkpoints, without searching again. Each leaf goes
// through the search's own finishLeaf (derivation, derived-path tuning, scoring) with only `derive`
// changed, so the output is the leaf result a search with `--derive D` would have written — the
// leaf training before the derivation is the same. One JSON line per leaf on stdout.
//
//   node experiments/derive-leaves.mjs [--device D] [--derive D] RUN...
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(ROOT, 'dist/src', p));
const { loadRun } = await imp('nas/rank.js');
const { createNodeMethod, finishLeaf } = await imp('nas/phases.js');
const { loadSearchData } = await imp('nas/search-data.js');
const { loadMethodCheckpoint } = await imp('search/checkpoints.js');
const { createBackend } = await imp('engine/select-backend.js');

const args = process.argv.slice(2);
let device = 'auto', derive = 'perturbation';
while (args[0]?.startsWith('--')) {
  const [flag, value] = args.splice(0, 2);
  if (flag === '--device') device = value;
  else if (flag === '--derive') derive = value;
  else throw new Error(`unknown flag ${flag}`);
}
if (!args.length) throw new Error('usage: node experiments/derive-leaves.mjs [--device D] [--derive D] RUN...');
const backend = await createBackend(device, { log: (m) => process.stderr.write(`note: ${m}\n`) });
for (const dir of args) {
  const run = loadRun(dir);
  const c = { ...run.config, derive };
  const data = loadSearchData(c);
  for (const leaf of run.leaves) {
    const saved = run.result.leaves.find((l) => l.node === leaf.node);
    const method = createNodeMethod(c, backend, data, leaf.node, leaf.mask);
    try {
      loadMethodCheckpoint(leaf.checkpoint, method);
      const t0 = Date.now();
      const r = await finishLeaf(c, method, data, { id: leaf.node, mask: leaf.mask }, [], 0);
      console.log(JSON.stringify({
        run: dir, node: leaf.node, derive, genotype: r.genotype, val: r.val.accuracy, valUntuned: r.valUntuned?.accuracy ?? null,
        supernetVal: r.supernetVal?.accuracy ?? null, searched: saved ? { genotype: saved.genotype, val: saved.val.accuracy } : null,
        perturbation: r.perturbation ?? null, seconds: (Date.now() - t0) / 1000,
      }));
    } finally {
      method.dispose();
    }
  }
}
