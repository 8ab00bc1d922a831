// The report of experiments/perturbation.sh: argmax-α picks against perturbation picks on the same
// leaves, every cell retrained with its search's protocol; percentiles of quality.sh's reference.
//
//   node experiments/perturbation-report.mjs QUALITY_OUT
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));
const Q = process.argv[2];
const P = join(Q, 'perturbation');
const json = (f) => JSON.parse(readFileSync(f, 'utf8'));
const quality = json(join(Q, 'quality.json'));
const ref = quality.reference.cells.map((c) => c.testAccuracy).sort((a, b) => a - b);
const percentile = (v) => (100 * ref.reduce((s, a) => s + (a < v ? 1 : a === v ? 0.5 : 0), 0)) / ref.length;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const names = { gm: 'GM + DARTS', oneshot: 'one-shot DARTS', fewshot: 'few-shot (5 leaves) + DARTS', random: 'random split + DARTS' };
const rows = [];
for (const f of readdirSync(join(P, 'derived')).filter((x) => x.endsWith('.jsonl')).sort()) {
  const name = f.replace(/\.jsonl$/, '');
  const [, method, seed] = /^(.*)-s(\d+)$/.exec(name);
  const search = json(join(Q, 'runs', name, 'result.json'));
  const leaves = readFileSync(join(P, 'derived', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((l) => {
    const r = join(P, 'retrain', name, `n${l.node}`, 'result.json');
    return { ...l, testAccuracy: existsSync(r) ? json(r).retrain.testAccuracy : null };
  }).filter((l) => l.testAccuracy !== null);
  if (!leaves.length) continue;
  const by = (k) => leaves.reduce((b, l) => (b === null || l[k] > b[k] ? l : b), null);
  // the search's own selector on the new leaves (val-acc: the derived path after tuning)
  const sel = search.config.select === 'supernet-val-acc' ? 'supernetVal' : 'val';
  const pick = by(sel);
  rows.push({
    method, seed: Number(seed), selector: search.config.select,
    alpha: { genotype: search.final.genotype, testAccuracy: search.final.retrain.testAccuracy, percentile: percentile(search.final.retrain.testAccuracy) },
    perturbation: { genotype: pick.genotype, node: pick.node, testAccuracy: pick.testAccuracy, percentile: percentile(pick.testAccuracy) },
    bySupernetVal: by('supernetVal').testAccuracy, best: by('testAccuracy').testAccuracy, meanLeaf: mean(leaves.map((l) => l.testAccuracy)),
    leaves,
  });
}
writeFileAtomic(join(P, 'perturbation.json'), `${JSON.stringify({ date: new Date().toISOString(), reference: quality.reference, rows }, null, 1)}\n`);
const f = (v, d = 2) => (v === null || v === undefined ? 'n/a' : v.toFixed(d));
const lines = ['# Argmax α against perturbation, on the same trained leaves', '',
  `${new Date().toISOString().slice(0, 10)}. Leaves of the searches in ${Q}; every cell retrained with its search's protocol; ` +
  `percentiles of the ${ref.length}-cell reference (mean ${f(mean(ref))}, 90th percentile ${f(quality.reference.p90)}).`, '',
  '| method | seed | α pick: test % (pct) | perturbation pick, same selector: test % (pct) | perturbation, by supernet val | perturbation, best leaf | perturbation, mean of leaves |',
  '|---|---|---|---|---|---|---|'];
for (const r of rows) {
  lines.push(`| ${names[r.method] ?? r.method} | ${r.seed} | ${f(r.alpha.testAccuracy)} (${f(r.alpha.percentile, 0)}) | ` +
    `${f(r.perturbation.testAccuracy)} (${f(r.perturbation.percentile, 0)}) | ${f(r.bySupernetVal)} | ${f(r.best)} | ${f(r.meanLeaf)} |`);
}
lines.push('', '| method | α picks, mean (pct) | perturbation picks, mean (pct) |', '|---|---|---|');
for (const m of [...new Set(rows.map((r) => r.method))]) {
  const rs = rows.filter((r) => r.method === m);
  lines.push(`| ${names[m] ?? m} (${rs.length} seeds) | ${f(mean(rs.map((r) => r.alpha.testAccuracy)))} (${f(mean(rs.map((r) => r.alpha.percentile)), 0)}) | ` +
    `${f(mean(rs.map((r) => r.perturbation.testAccuracy)))} (${f(mean(rs.map((r) => r.perturbation.percentile)), 0)}) |`);
}
lines.push('', 'Genotypes:', '');
for (const r of rows) lines.push(`- ${names[r.method] ?? r.method}, seed ${r.seed}: α \`${r.alpha.genotype}\`; perturbation \`${r.perturbation.genotype}\``);
writeFileAtomic(join(P, 'perturbation.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
