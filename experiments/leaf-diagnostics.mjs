// Per-leaf diagnostics of a ranking experiment (issue [quality] item 5): why does a few-shot / GM
// supernet tree rank cells worse than the one-shot supernet? Zero compute: it reads what
// experiments/ranking.sh left in a budget folder (rank-<method>.csv with each cell's leaf, the runs'
// result.json) and the truth, and writes a markdown report:
//   - Kendall τ-b of every method over all cells, and split into pairs of cells inside one leaf and
//     pairs across leaves (the one-shot supernet on the same pairs as the reference);
//   - per leaf: cells, τ inside the leaf (and one-shot's τ on the same cells), mean score vs mean truth;
//   - calibration: τ with every leaf's scores shifted so their mean is the leaf's true mean (the
//     issue's "0.28" check), and with the leaves put in their true order (within-leaf order kept);
//   - per split: the edge and op groups it chose and the truth of the cells on each side.
//
//   node experiments/leaf-diagnostics.mjs DIR TRUTH.csv [COLUMN] [OUT.md] [--rank SUFFIX] [--oneshot DIR2]
//
// --rank SUFFIX reads rank-<method>SUFFIX.csv (e.g. a re-scoring with another BN mode) instead of
// rank-<method>.csv; --oneshot DIR2 takes the one-shot reference from DIR2 when DIR has none (the
// runs of experiments/gm-variant.sh).
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { kendallTau } = await import(join(ROOT, 'dist/src/stats/rank.js'));
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const args = process.argv.slice(2);
function option(name) {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new Error(`${name} needs a value`);
  args.splice(i, 2);
  return v;
}
const suffix = option('--rank') ?? '';
const oneshotDir = option('--oneshot');
const [dir, truthFile, column = 'test_accuracy', outFile] = args;
if (!dir || !truthFile) throw new Error('usage: node experiments/leaf-diagnostics.mjs DIR TRUTH.csv [COLUMN] [OUT.md] [--rank SUFFIX] [--oneshot DIR2]');

function readCsv(file) {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((line) => { const v = line.split(','); return Object.fromEntries(cols.map((c, i) => [c, v[i]])); });
}
const truth = new Map(readCsv(truthFile).map((r) => [r.arch_str, Number(r[column])]));
if (![...truth.values()].every(Number.isFinite)) throw new Error(`${truthFile}: column '${column}' is missing or not numeric`);

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
const sd = (a) => { const m = mean(a); return Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / Math.max(1, a.length - 1)); };
const f3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const sgn = (v) => (v > 0 ? 1 : v < 0 ? -1 : 0);

/** (concordant − discordant) / pairs over the pairs `keep(i, j)` admits (ties count as neither). */
function pairTau(score, tr, keep) {
  let c = 0, d = 0, n = 0;
  for (let i = 0; i < score.length; i++) for (let j = i + 1; j < score.length; j++) {
    if (!keep(i, j)) continue;
    n++;
    const s = sgn(score[i] - score[j]) * sgn(tr[i] - tr[j]);
    if (s > 0) c++; else if (s < 0) d++;
  }
  return { tau: n ? (c - d) / n : NaN, pairs: n };
}

function load(method, from = dir) {
  const f = join(from, `rank-${method}${suffix}.csv`);
  if (!existsSync(f)) return null;
  const rows = readCsv(f).filter((r) => truth.has(r.arch_str));
  const result = JSON.parse(readFileSync(join(from, 'runs', method, 'result.json'), 'utf8'));
  return { method, rows, result, byArch: new Map(rows.map((r) => [r.arch_str, r])) };
}
const methods = ['oneshot', 'fewshot', 'gm'].map((m) => load(m)).filter(Boolean);
const oneshot = methods.find((m) => m.method === 'oneshot') ?? (oneshotDir ? load('oneshot', oneshotDir) : undefined);
const names = { oneshot: 'one-shot', fewshot: 'few-shot', gm: 'GM' };

const out = [`# Leaf diagnostics: ${dir}`, '',
  `Truth ${truthFile} (column ${column}); rankings rank-<method>${suffix}.csv. τ is Kendall τ-b over all cells; ` +
  '"pair τ" is (concordant − discordant) / pairs over the pairs named (tied scores count as neither).', ''];

// ---- overall, inside leaves, across leaves -------------------------------------------------------
out.push('## τ overall, inside leaves, across leaves', '',
  '| method | leaves | cells | τ all | pair τ inside a leaf (pairs) | one-shot on the same pairs | pair τ across leaves (pairs) | one-shot on the same pairs | τ leaves shifted to true mean | τ leaves in true order |',
  '|---|---|---|---|---|---|---|---|---|---|');
const perLeafTables = [];
for (const m of methods) {
  const archs = m.rows.map((r) => r.arch_str);
  const score = m.rows.map((r) => Number(r.val_accuracy));
  const tr = archs.map((a) => truth.get(a));
  const leaf = m.rows.map((r) => r.leaf);
  const os = oneshot ? archs.map((a) => Number(oneshot.byArch.get(a)?.val_accuracy)) : null;
  const same = (i, j) => leaf[i] === leaf[j];
  const inside = pairTau(score, tr, same), across = pairTau(score, tr, (i, j) => !same(i, j));
  const osInside = os ? pairTau(os, tr, same) : null, osAcross = os ? pairTau(os, tr, (i, j) => !same(i, j)) : null;
  const leaves = [...new Set(leaf)].sort((a, b) => Number(a) - Number(b));
  const stats = new Map(leaves.map((l) => {
    const idx = leaf.map((x, i) => (x === l ? i : -1)).filter((i) => i >= 0);
    return [l, { idx, ms: mean(idx.map((i) => score[i])), mt: mean(idx.map((i) => tr[i])), sdt: sd(idx.map((i) => tr[i])), sds: sd(idx.map((i) => score[i])) }];
  }));
  // calibration: every leaf's scores moved so their mean is the leaf's true mean (scale kept)
  const shifted = score.map((s, i) => s - stats.get(leaf[i]).ms + stats.get(leaf[i]).mt);
  // oracle order of leaves: leaves sorted by true mean, cells inside a leaf by score
  const leafRank = new Map([...stats].sort((a, b) => a[1].mt - b[1].mt).map(([l], k) => [l, k]));
  const ordered = score.map((s, i) => leafRank.get(leaf[i]) * 1000 + s);
  out.push(`| ${names[m.method]} | ${leaves.length} | ${archs.length} | ${f3(kendallTau(score, tr))} | ${f3(inside.tau)} (${inside.pairs}) | ` +
    `${osInside ? f3(osInside.tau) : 'n/a'} | ${f3(across.tau)} (${across.pairs}) | ${osAcross ? f3(osAcross.tau) : 'n/a'} | ` +
    `${leaves.length > 1 ? f3(kendallTau(shifted, tr)) : '—'} | ${leaves.length > 1 ? f3(kendallTau(ordered, tr)) : '—'} |`);
  if (leaves.length < 2) continue;

  // ---- per leaf ------------------------------------------------------------------------------------
  const leafInfo = new Map(m.result.leaves.map((l) => [String(l.node), l]));
  const t = [`### ${names[m.method]}: per leaf`, '',
    '| leaf | mask | cells | τ inside | one-shot τ same cells | mean score (sd) | mean truth (sd) | leaf supernet val % | last lr | last train acc % |',
    '|---|---|---|---|---|---|---|---|---|---|'];
  for (const [l, s] of stats) {
    const sc = s.idx.map((i) => score[i]), tt = s.idx.map((i) => tr[i]);
    const info = leafInfo.get(l);
    const last = info?.history?.[info.history.length - 1];
    t.push(`| ${l} | ${info?.mask ?? '?'} | ${s.idx.length} | ${s.idx.length > 2 ? f3(kendallTau(sc, tt)) : 'n/a'} | ` +
      `${os && s.idx.length > 2 ? f3(kendallTau(s.idx.map((i) => os[i]), tt)) : 'n/a'} | ${f1(s.ms)} (${f1(s.sds)}) | ${f1(s.mt)} (${f1(s.sdt)}) | ` +
      `${f1(info?.supernetVal?.accuracy)} | ${last ? last.lr.toFixed(4) : '?'} | ${last ? f1(last.trainAccuracy) : '?'} |`);
  }
  const ls = [...stats.values()];
  t.push('', `τ-b between the leaves' mean scores and their mean truths: ${f3(kendallTau(ls.map((s) => s.ms), ls.map((s) => s.mt)))} ` +
    `(${ls.length} leaves). Spread of the leaves' true means: ${f1(Math.min(...ls.map((s) => s.mt)))}–${f1(Math.max(...ls.map((s) => s.mt)))} ` +
    `(within-leaf truth sd ${f1(mean(ls.map((s) => s.sdt)))}); of their mean scores: ${f1(Math.min(...ls.map((s) => s.ms)))}–${f1(Math.max(...ls.map((s) => s.ms)))}.`, '');

  // ---- per split: does it separate good from bad cells? --------------------------------------------
  const nodes = new Map(m.result.tree.nodes.map((n) => [n.id, n]));
  const under = (leafId, nodeId) => { for (let n = nodes.get(Number(leafId)); n; n = n.parent === null ? null : nodes.get(n.parent)) if (n.id === nodeId) return true; return false; };
  t.push(`### ${names[m.method]}: splits`, '', '| node | edge | criterion | child: ops on the edge → cells, truth mean (sd) | difference of the children\'s true means |', '|---|---|---|---|---|');
  for (const s of m.result.splits) {
    const sides = s.children.map((ch, k) => {
      const idx = leaf.map((x, i) => (under(x, ch) ? i : -1)).filter((i) => i >= 0);
      const tt = idx.map((i) => tr[i]);
      return { text: `${ch}: {${s.groups[k].join(', ')}} → ${idx.length}, ${f1(mean(tt))} (${f1(sd(tt))})`, m: idx.length ? mean(tt) : NaN };
    });
    const ms = sides.map((x) => x.m).filter(Number.isFinite);
    t.push(`| ${s.node} | ${s.edge} | ${s.criterion} | ${sides.map((x) => x.text).join('; ')} | ${f1(Math.max(...ms) - Math.min(...ms))} |`);
  }
  t.push('');
  perLeafTables.push(...t);
}
out.push('', ...perLeafTables);
const text = `${out.join('\n')}\n`;
if (outFile) writeFileAtomic(outFile, text);
process.stdout.write(text);
