// The report of `experiments/ranking.sh --curve`: Kendall τ against budget for one-shot, few-shot and GM,
// with the parameter-count floor, from OUT/budget-B/ranking.json (one ranking.sh run per budget) and
// OUT/correlate-params.json. Writes OUT/ranking-curve.json, OUT/ranking-curve.svg, OUT/ranking.md and
// OUT/ranking.html.
//
//   node experiments/ranking-curve.mjs OUT B1,B2,...
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { writeFileAtomic } = await import(join(ROOT, 'dist/src/io/fs.js'));

const [OUT, budgetList] = process.argv.slice(2);
if (!OUT || !budgetList) throw new Error('usage: node experiments/ranking-curve.mjs OUT B1,B2,...');
const budgets = budgetList.split(',').map(Number);
const readJson = (f) => JSON.parse(readFileSync(join(OUT, f), 'utf8'));
const runs = budgets.map((b) => readJson(`budget-${b}/ranking.json`));
// `correlate --json` prints one JSON line last
const floor = JSON.parse(readFileSync(join(OUT, 'correlate-params.json'), 'utf8').trim().split('\n').pop());
const overall = (rows) => rows.find((r) => r.top === 1) ?? rows[rows.length - 1];
const NAMES = { oneshot: 'one-shot', fewshot: 'few-shot', gm: 'GM' };
const COLOURS = { oneshot: '#1f77b4', fewshot: '#ff7f0e', gm: '#2ca02c' };

const methods = ['oneshot', 'fewshot', 'gm'].map((m) => ({
  method: m,
  name: NAMES[m],
  points: runs.map((r, i) => {
    const x = r.methods.find((y) => y.method === m);
    const a = overall(x.correlation);
    return { budget: budgets[i], kendall: a.kendall, spearman: a.spearman, correlation: x.correlation, wallSeconds: x.wallSeconds };
  }),
}));
const fa = overall(floor.rows);
const first = runs[0];
const curve = {
  date: new Date().toISOString(), device: first.methods[0].device, base: first.base, dataset: first.dataset,
  channels: first.channels, cells: first.cells, seed: first.seed, stepsPerEpoch: first.stepsPerEpoch, batchSize: first.batchSize,
  archs: first.archs, truth: first.truth, column: first.column, shared: first.methods[0].shared,
  budgetRule: first.budgetRule ?? 'equal', budgets, methods,
  parameterFloor: { kendall: fa.kendall, spearman: fa.spearman, shared: floor.shared, correlation: floor.rows },
};
writeFileAtomic(join(OUT, 'ranking-curve.json'), `${JSON.stringify(curve, null, 1)}\n`);

// ---- the SVG: τ against budget (budgets evenly spaced, as they usually double), the floor dashed ----
const esc = (t) => String(t).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 640, H = 360, L = 56, R = 150, T = 24, B = 44;
const taus = [...methods.flatMap((m) => m.points.map((p) => p.kendall)), fa.kendall].filter((v) => Number.isFinite(v));
const lo = Math.min(0, ...taus) - 0.05, hi = Math.max(0, ...taus) + 0.05;
const xAt = (i) => L + (i * (W - L - R)) / (budgets.length - 1);
const yAt = (v) => T + ((hi - v) * (H - T - B)) / (hi - lo);
const n1 = (v) => v.toFixed(1);
const svg = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
];
for (let k = Math.ceil(lo * 10); k <= Math.floor(hi * 10); k++) {
  const y = n1(yAt(k / 10));
  svg.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="${k === 0 ? '#999' : '#e4e4e4'}"/>`,
    `<text x="${L - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${(k / 10).toFixed(1)}</text>`);
}
svg.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
  `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
budgets.forEach((b, i) => svg.push(`<text x="${n1(xAt(i))}" y="${H - B + 16}" text-anchor="middle">${b}</text>`));
svg.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">budget (supernet-epochs of ${esc(first.stepsPerEpoch ?? 'one pass of')} steps)</text>`,
  `<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(T + H - B) / 2})">Kendall τ against the truth</text>`);
if (Number.isFinite(fa.kendall)) {
  const y = n1(yAt(fa.kendall));
  svg.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#666" stroke-dasharray="6 4"/>`);
}
const labels = []; // right-hand labels, pushed apart below so close lines stay readable
if (Number.isFinite(fa.kendall)) labels.push({ y: yAt(fa.kendall), text: 'parameter count', fill: '#555' });
for (const m of methods) {
  const pts = m.points.map((p, i) => [xAt(i), p.kendall]).filter(([, v]) => Number.isFinite(v));
  const c = COLOURS[m.method];
  svg.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.map(([x, v]) => `${n1(x)},${n1(yAt(v))}`).join(' ')}"/>`);
  for (const [x, v] of pts) svg.push(`<circle cx="${n1(x)}" cy="${n1(yAt(v))}" r="3" fill="${c}"><title>${esc(m.name)}: τ ${v.toFixed(3)}</title></circle>`);
  const last = pts[pts.length - 1];
  if (last) labels.push({ y: yAt(last[1]), text: m.name, fill: c });
}
labels.sort((a, b) => a.y - b.y);
for (let i = 1; i < labels.length; i++) labels[i].y = Math.max(labels[i].y, labels[i - 1].y + 14);
for (const l of labels) svg.push(`<text x="${W - R + 8}" y="${n1(l.y)}" dominant-baseline="middle" fill="${l.fill}">${esc(l.text)}</text>`);
svg.push('</svg>');
writeFileAtomic(join(OUT, 'ranking-curve.svg'), `${svg.join('\n')}\n`);

// ---- ranking.md and ranking.html ----
const f = (v) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(3));
const top10 = (rows) => { const r = rows.find((x) => Math.abs(x.top - 0.1) < 1e-9); return r ? f(r.kendall) : 'n/a'; };
const d = curve.dataset;
const intro = `${curve.date.slice(0, 10)}, ${curve.device}. ${d.name}, ${d.trainImages} training images ${d.imageShape.join('×')}, ` +
  `C=${curve.channels} N=${curve.cells}, seed ${curve.seed}, ${curve.shared} architectures (${curve.archs}), truth ${curve.truth} ` +
  `(column ${curve.column}). Budget = supernet-epochs per method of ${curve.stepsPerEpoch ?? 'one pass of'} steps, batch ` +
  `${curve.batchSize}; ` + (curve.budgetRule === 'paper'
    ? "budget rule paper: one-shot trains the budget, few-shot and GM the reference's proportions of it (they spend more; " +
      "each budget's ranking.md gives every method's supernet-epochs)."
    : 'every method gets the same budget.');
const head = ['budget', 'one-shot τ (top 10 %)', 'few-shot τ (top 10 %)', 'GM τ (top 10 %)', 'parameter count τ', 'wall s one-shot / few-shot / GM'];
const rows = budgets.map((b, i) => {
  const p = methods.map((m) => m.points[i]);
  return [String(b), ...p.map((x) => `${f(x.kendall)} (${top10(x.correlation)})`), `${f(fa.kendall)} (${top10(floor.rows)})`,
    p.map((x) => x.wallSeconds.total.toFixed(0)).join(' / ')];
});
const note = 'Kendall τ-b over all architectures (in brackets: over the best 10 % by truth). The parameter-count floor ranks the ' +
  "same architectures by their parameter count at the searches' C and N, without any training. Wall times are search + rank. " +
  "Each budget's own report (Spearman, schedules, every top fraction) is budget-B/ranking.md.";
const md = [`# Ranking correlation against budget (${curve.base})`, '', intro, '', '![Kendall τ against budget](ranking-curve.svg)', '',
  `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '', note];
writeFileAtomic(join(OUT, 'ranking.md'), `${md.join('\n')}\n`);
const html = ['<!doctype html>', '<meta charset="utf-8">', '<title>Ranking correlation against budget</title>',
  '<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{border:1px solid #ccc;padding:2px 8px}table{border-collapse:collapse}</style>',
  `<h1>Ranking correlation against budget (${esc(curve.base)})</h1>`, `<p>${esc(intro)}</p>`, svg.join('\n'), '<table>',
  `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`, ...rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`),
  '</table>', `<p>${esc(note)}</p>`];
writeFileAtomic(join(OUT, 'ranking.html'), `${html.join('\n')}\n`);
console.log(md.join('\n'));
console.log(`\nwrote ${join(OUT, 'ranking.md')}, ranking.html, ranking-curve.json and ranking-curve.svg`);
