// The offline report of a search (report.html): one self-contained HTML document with inline CSS and
// inline SVG — no scripts, no external URLs, no fetched fonts — that shows the run's header, the final
// pick, the leaves' scores, the partition tree, every split's GM distance heatmaps (the chosen edge
// and every candidate edge), the leaves' training curves, the timings and the full configuration.
//
// Browser-safe: no node: imports. The browser demo reuses the SVG pieces (`heatmapSvg`, `treeSvg`,
// `lineChartSvg`); every piece returns markup with all text escaped, so it can go into innerHTML.
import type { SearchResult } from '../nas/search.js';
import { getSpace, type SearchSpace } from '../spaces/registry.js';
import type { CellDag } from '../spaces/space.js';

// ---------------------------------------------------------------------------------------------------
// Text helpers

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and quoted attribute values (also safe inside SVG). */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** A number with `digits` decimals; '—' for null, undefined, NaN and infinities. */
function fmt(v: number | null | undefined, digits: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—';
}

/** A duration for people: "850 ms", "4.2 s", "3 min 07 s", "2 h 05 min". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(Math.round(s % 60)).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')} min`;
}

/** Short op names for small drawings (the full name goes into the SVG <title> tooltip). */
const SHORT_OPS: Record<string, string> = {
  none: 'none', skip_connect: 'skip', nor_conv_1x1: 'c1x1', nor_conv_3x3: 'c3x3', avg_pool_3x3: 'pool',
};
export function shortOpName(op: string): string { return SHORT_OPS[op] ?? op; }

function edgeKey(space: SearchSpace, e: number): string { return space.decisions[e]?.key ?? `e${e}`; }

/** The space a result was searched in (a bare tree or an unknown name: the default space). */
function spaceOf(r: { space?: string }): SearchSpace {
  try { return getSpace(r.space); } catch { return getSpace(); }
}

/** Category colours (groups of a split, leaves in the curve charts). */
const PALETTE = ['#2f6db3', '#d9822b', '#2e9e5b', '#b8437a', '#7a5cc2', '#8a6d3b', '#1f9aa8', '#c0392b'];
function paletteColour(i: number): string { return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!; }

// ---------------------------------------------------------------------------------------------------
// Heatmap

/** Sequential colour scale, low → high: pale cream → amber → deep plum. */
const SCALE_STOPS: [number, number, number][] = [[255, 250, 228], [250, 205, 120], [231, 124, 64], [172, 52, 76], [84, 22, 82]];

function scaleRgb(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (SCALE_STOPS.length - 1);
  const i = Math.min(SCALE_STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = SCALE_STOPS[i]!, b = SCALE_STOPS[i + 1]!;
  return [0, 1, 2].map((k) => Math.round(a[k]! + (b[k]! - a[k]!) * f)) as [number, number, number];
}

function rgbHex([r, g, b]: [number, number, number]): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** Dark text on light cells, white text on dark ones. */
function textOn([r, g, b]: [number, number, number]): string {
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? '#1b1b1b' : '#ffffff';
}

export interface HeatmapOptions {
  /** drawn above the matrix */
  title?: string;
  /** decimals of the values printed in the cells and on the legend (default 3) */
  precision?: number;
  /** cell size in px (default 56) */
  cell?: number;
  /** font size in px (default: from the cell size) */
  fontSize?: number;
  /** colour-scale domain (default: min/max of the finite off-diagonal values) */
  min?: number;
  max?: number;
  /** groups of label indices (a split): coloured tags on the axes, outlined within-group cells */
  groups?: number[][];
  /** mark the heatmap as the chosen one (class "heatmap chosen", heavier frame) */
  chosen?: boolean;
  /** full names for the tooltips when `labels` are abbreviations */
  fullLabels?: string[];
  /** draw the colour legend (default true) */
  legend?: boolean;
  /** print the value in each cell (default true) */
  values?: boolean;
}

/**
 * An n×n matrix (e.g. a GM distance matrix, 1 − cos) as an SVG heatmap: labels on both axes, the value
 * in each cell, a colour scale (diagonal drawn neutral), and optional groups. `<svg class="heatmap">`.
 */
export function heatmapSvg(matrix: readonly (readonly number[])[], labels: readonly string[], opts: HeatmapOptions = {}): string {
  const rows = matrix.length;
  const cols = Math.max(0, ...matrix.map((r) => r.length));
  const cell = opts.cell ?? 56;
  const fs = opts.fontSize ?? Math.max(8, Math.min(12, Math.round(cell / 4.6)));
  const prec = opts.precision ?? 3;
  const showValues = opts.values ?? true;
  const withLegend = opts.legend ?? true;
  const label = (i: number): string => labels[i] ?? String(i);
  const full = (i: number): string => opts.fullLabels?.[i] ?? label(i);
  const n = Math.max(rows, cols);
  const charW = fs * 0.62;
  const maxLab = Math.max(1, ...Array.from({ length: n }, (_, i) => label(i).length));
  const labLen = Math.ceil(maxLab * charW);
  const tag = opts.groups ? 7 : 0;
  const titleH = opts.title ? fs + 12 : 0;
  const diag = Math.ceil(labLen * 0.71); // a label rotated by 45°
  const left = labLen + 10 + tag;
  const top = titleH + diag + 10 + tag;
  const gridW = cols * cell, gridH = rows * cell;
  const legendW = withLegend ? 16 + 12 + Math.ceil((prec + 3) * charW) : 0;
  const width = left + gridW + Math.max(legendW, diag + 6) + 4;
  const height = top + gridH + 6;

  // colour-scale domain
  const off: number[] = [], all: number[] = [];
  matrix.forEach((r, i) => r.forEach((v, j) => {
    if (!Number.isFinite(v)) return;
    all.push(v);
    if (i !== j) off.push(v);
  }));
  const pool = off.length ? off : all.length ? all : [0, 1];
  const lo = opts.min ?? Math.min(...pool);
  const hi = opts.max ?? Math.max(...pool);
  const span = hi - lo || 1;
  const t = (v: number): number => (v - lo) / span;

  const groupOf = new Map<number, number>();
  opts.groups?.forEach((g, k) => g.forEach((i) => groupOf.set(i, k)));

  const out: string[] = [];
  const cls = opts.chosen ? 'heatmap chosen' : 'heatmap';
  out.push(`<svg class="${cls}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"` +
    ` aria-label="${escapeHtml(opts.title ?? 'heatmap')}" font-family="system-ui, sans-serif" font-size="${fs}">`);
  if (opts.title) out.push(`<text x="0" y="${fs + 2}" font-weight="600">${escapeHtml(opts.title)}</text>`);
  // axis labels (rows on the left, columns rotated above) with group tags
  for (let i = 0; i < rows; i++) {
    const y = top + i * cell + cell / 2;
    out.push(`<text x="${left - 6 - tag}" y="${y}" text-anchor="end" dominant-baseline="middle"><title>${escapeHtml(full(i))}</title>${escapeHtml(label(i))}</text>`);
    const g = groupOf.get(i);
    if (g !== undefined) out.push(`<rect x="${left - tag - 2}" y="${top + i * cell + 2}" width="${tag - 2}" height="${cell - 4}" fill="${paletteColour(g)}"/>`);
  }
  for (let j = 0; j < cols; j++) {
    const x = left + j * cell + cell / 2;
    const y = top - 6 - tag;
    out.push(`<text x="${x}" y="${y}" transform="rotate(-45 ${x} ${y})"><title>${escapeHtml(full(j))}</title>${escapeHtml(label(j))}</text>`);
    const g = groupOf.get(j);
    if (g !== undefined) out.push(`<rect x="${left + j * cell + 2}" y="${top - tag - 2}" width="${cell - 4}" height="${tag - 2}" fill="${paletteColour(g)}"/>`);
  }
  // cells
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = matrix[i]![j];
      const x = left + j * cell, y = top + i * cell;
      const finite = typeof v === 'number' && Number.isFinite(v);
      const rgb: [number, number, number] = i === j || !finite ? [238, 238, 238] : scaleRgb(t(v));
      const text = i === j || !finite ? '#777777' : textOn(rgb);
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${rgbHex(rgb)}" stroke="#ffffff" stroke-width="1">` +
        `<title>${escapeHtml(`${full(i)} vs ${full(j)}: ${fmt(v, 6)}`)}</title></rect>`);
      const gi = groupOf.get(i);
      if (gi !== undefined && gi === groupOf.get(j)) {
        out.push(`<rect x="${x + 2}" y="${y + 2}" width="${cell - 4}" height="${cell - 4}" fill="none" stroke="${paletteColour(gi)}" stroke-width="2"/>`);
      }
      if (showValues) {
        out.push(`<text class="hm-value" x="${x + cell / 2}" y="${y + cell / 2}" text-anchor="middle" dominant-baseline="middle" fill="${text}">${fmt(v, prec)}</text>`);
      }
    }
  }
  out.push(`<rect x="${left}" y="${top}" width="${gridW}" height="${gridH}" fill="none" stroke="${opts.chosen ? '#1b1b1b' : '#bbbbbb'}" stroke-width="${opts.chosen ? 2.5 : 1}"/>`);
  // legend: discrete steps from the top (high) to the bottom (low)
  if (withLegend && rows > 0) {
    const steps = 10;
    const lx = left + gridW + 12;
    const h = gridH / steps;
    for (let k = 0; k < steps; k++) {
      out.push(`<rect x="${lx}" y="${(top + k * h).toFixed(2)}" width="12" height="${(h + 0.5).toFixed(2)}" fill="${rgbHex(scaleRgb(1 - (k + 0.5) / steps))}"/>`);
    }
    out.push(`<rect x="${lx}" y="${top}" width="12" height="${gridH}" fill="none" stroke="#bbbbbb"/>`);
    out.push(`<text x="${lx + 16}" y="${top + fs / 2}" dominant-baseline="middle">${fmt(hi, prec)}</text>`);
    out.push(`<text x="${lx + 16}" y="${top + gridH - fs / 2}" dominant-baseline="middle">${fmt(lo, prec)}</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------
// Partition tree

/** What `treeSvg` needs: the tree and the splits; leaves/final/failures add scores and marks. */
export type TreeSource = Pick<SearchResult, 'tree' | 'splits'> & Partial<Pick<SearchResult, 'leaves' | 'final' | 'failedLeaves' | 'space'>>;

function safeMask(space: SearchSpace, text: string): Uint8Array | null {
  try { return space.parseMask(text); } catch { return null; }
}

/**
 * The partition tree as SVG: one `<g class="tree-node" data-node="id">` per node with its id, its op
 * mask (6 rows = edges, 5 cells = ops; restricted edges in amber), the admitted-architecture count and,
 * for leaves, the validation accuracy; edges labelled with the split edge and the child's op group.
 */
export function treeSvg(result: TreeSource): string {
  const space = spaceOf(result);
  const nodes = result.tree.nodes;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const W = 156, H = 88, GAP = 22, VGAP = 74, PAD = 12, CELL = 8, CGAP = 1;
  // x slots: leaves left to right in depth-first order, parents centred over their children
  const xs = new Map<number, number>();
  let slot = 0;
  const place = (id: number, seen: Set<number>): number => {
    if (seen.has(id)) return xs.get(id) ?? 0; // defensive: a malformed tree must not loop
    seen.add(id);
    const n = byId.get(id);
    const kids = (n?.children ?? []).filter((c) => byId.has(c));
    const x = kids.length ? kids.map((c) => place(c, seen)).reduce((a, b) => a + b, 0) / kids.length : slot++;
    xs.set(id, x);
    return x;
  };
  const seen = new Set<number>();
  for (const n of nodes) if (n.parent === null || !byId.has(n.parent)) place(n.id, seen);
  for (const n of nodes) if (!xs.has(n.id)) place(n.id, seen);
  const maxDepth = Math.max(0, ...nodes.map((n) => n.depth));
  const width = PAD * 2 + Math.max(1, slot) * (W + GAP) - GAP;
  const height = PAD * 2 + (maxDepth + 1) * (H + VGAP) - VGAP;
  const pos = (id: number): { x: number; y: number } => {
    const n = byId.get(id)!;
    return { x: PAD + (xs.get(id) ?? 0) * (W + GAP), y: PAD + n.depth * (H + VGAP) };
  };
  const leafOf = new Map((result.leaves ?? []).map((l) => [l.node, l]));
  const failed = new Map((result.failedLeaves ?? []).map((f) => [f.node, f]));
  const finalNode = result.final?.node;
  const splitOf = new Map(result.splits.map((s) => [s.node, s]));

  const out: string[] = [];
  out.push(`<svg class="tree" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="partition tree"` +
    ' font-family="system-ui, sans-serif" font-size="10">');
  const halo = 'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"';
  // edges first, so node boxes and labels sit on top
  for (const n of nodes) {
    if (n.parent === null || !byId.has(n.parent)) continue;
    const p = pos(n.parent), c = pos(n.id);
    const x1 = p.x + W / 2, y1 = p.y + H, x2 = c.x + W / 2, y2 = c.y;
    const ym = (y1 + y2) / 2;
    out.push(`<path class="tree-edge" d="M${x1} ${y1} C${x1} ${ym} ${x2} ${ym} ${x2} ${y2}" fill="none" stroke="#8a8a8a" stroke-width="1.5"/>`);
    const s = splitOf.get(n.parent);
    const k = s ? s.children.indexOf(n.id) : -1;
    const group = s && k >= 0 ? s.groups[k] : undefined;
    if (s && group) {
      const text = `{${group.map(shortOpName).join(', ')}}`;
      out.push(`<text x="${x2}" y="${y2 - 8}" text-anchor="middle" ${halo} fill="${paletteColour(k)}" font-weight="600">` +
        `<title>${escapeHtml(`edge ${s.edge} (${edgeKey(space, s.edge)}) restricted to ${group.join(', ')}`)}</title>${escapeHtml(text)}</text>`);
    }
  }
  for (const n of nodes) {
    const { x, y } = pos(n.id);
    const leaf = leafOf.get(n.id);
    const isFinal = finalNode === n.id;
    const mask = safeMask(space, n.mask);
    const s = splitOf.get(n.id);
    out.push(`<g class="tree-node" data-node="${n.id}">`);
    out.push(`<title>${escapeHtml(`node ${n.id} — mask ${n.mask} — ${n.archs} architectures`)}</title>`);
    out.push(`<rect x="${x}" y="${y}" width="${W}" height="${H}" rx="6" fill="${isFinal ? '#fff6d6' : '#ffffff'}"` +
      ` stroke="${isFinal ? '#c99700' : failed.has(n.id) ? '#c0392b' : '#9a9a9a'}" stroke-width="${isFinal ? 2.5 : 1.2}"/>`);
    out.push(`<text x="${x + 8}" y="${y + 15}" font-weight="700" font-size="12">node ${n.id}</text>`);
    if (isFinal) out.push(`<text x="${x + W - 8}" y="${y + 15}" text-anchor="end" font-weight="700" fill="#9a7400">★ final</text>`);
    // the mask: rows = edges, columns = ops
    const gx = x + 8, gy = y + 24;
    if (mask) {
      // the rows GM may split (NB201: all 6; DARTS: the 14 normal edges), cells shrunk to fit the box
      const rows = space.split.candidates(space.fullMask());
      const cell = Math.max(1, Math.min(CELL, Math.floor(58 / rows.length) - CGAP));
      rows.forEach((e, ri) => {
        const restricted = space.enabledOps(mask, e).length < space.decisions[e].ops.length;
        for (let o = 0; o < space.cols; o++) {
          const on = mask[e * space.cols + o] === 1;
          const fill = on ? (restricted ? '#e08a1e' : '#3b6ea5') : '#e6e6e6';
          out.push(`<rect class="mask-cell" x="${gx + o * (cell + CGAP)}" y="${gy + ri * (cell + CGAP)}" width="${cell}" height="${cell}" fill="${fill}">` +
            `<title>${escapeHtml(`edge ${e} (${edgeKey(space, e)}) ${space.decisions[e].ops[o]}: ${on ? 'on' : 'off'}`)}</title></rect>`);
        }
      });
    } else {
      out.push(`<text x="${gx}" y="${gy + 10}" font-family="ui-monospace, monospace" font-size="8">${escapeHtml(n.mask)}</text>`);
    }
    const tx = x + 8 + space.cols * (CELL + CGAP) + 10;
    out.push(`<text x="${tx}" y="${y + 33}">${escapeHtml(n.archs.toLocaleString('en-US'))} archs</text>`);
    if (s) {
      out.push(`<text x="${tx}" y="${y + 47}" fill="#555555">split ${escapeHtml(edgeKey(space, s.edge))}</text>`);
      if (s.cutScore !== null) out.push(`<text x="${tx}" y="${y + 61}" fill="#555555">cut ${fmt(s.cutScore, 3)}</text>`);
    } else if (leaf) {
      out.push(`<text x="${tx}" y="${y + 47}">val ${fmt(leaf.val.accuracy, 2)} %</text>`);
      out.push(`<text x="${tx}" y="${y + 61}" fill="#555555">loss ${fmt(leaf.val.loss, 3)}</text>`);
    } else if (failed.has(n.id)) {
      out.push(`<text x="${tx}" y="${y + 47}" fill="#c0392b" font-weight="600">failed</text>`);
    }
    out.push(`<text x="${tx}" y="${y + 75}" fill="#777777">depth ${n.depth}</text>`);
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------
// Line charts

export interface ChartSeries {
  name: string;
  points: readonly (readonly [number, number])[];
  colour?: string;
}

export interface LineChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  width?: number;
  height?: number;
  /** x ticks at integers only (epochs) */
  integerX?: boolean;
  /** draw a legend under the title (default: when there is more than one series) */
  legend?: boolean;
  /** the y axis includes this value and never goes below it (0 for accuracies) */
  yMin?: number;
}

/** Round tick values covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count: number, integer: boolean, floor?: number): { ticks: number[]; lo: number; hi: number; step: number } {
  if (floor !== undefined && Number.isFinite(lo)) lo = Math.min(lo, floor);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-12) { const pad = Math.abs(lo) * 0.05 || (integer ? 1 : 0.5); lo -= pad; hi += pad; }
  const raw = (hi - lo) / count;
  let step = 10 ** Math.floor(Math.log10(raw));
  const r = raw / step;
  step *= r >= 7.5 ? 10 : r >= 3.5 ? 5 : r >= 1.5 ? 2 : 1;
  if (integer) step = Math.max(1, Math.round(step));
  let a = Math.floor(lo / step) * step;
  const b = Math.ceil(hi / step) * step;
  if (floor !== undefined && a < floor) a = floor;
  const ticks: number[] = [];
  for (let v = a; v <= b + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return { ticks, lo: a, hi: b, step };
}

function tickText(v: number, step: number): string {
  const d = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(d);
}

/** Series as SVG polylines (with point markers) on labelled axes. `<svg class="curve">`. */
export function lineChartSvg(series: readonly ChartSeries[], opts: LineChartOptions = {}): string {
  const width = opts.width ?? 380, height = opts.height ?? 220;
  const withLegend = opts.legend ?? series.length > 1;
  const legendRows = withLegend ? Math.ceil(series.length / 4) : 0;
  const ml = 52, mr = 14, mt = (opts.title ? 22 : 8) + legendRows * 14, mb = 36;
  const pw = width - ml - mr, ph = height - mt - mb;
  const xsAll = series.flatMap((s) => s.points.map((p) => p[0])).filter(Number.isFinite);
  const ysAll = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const X = niceTicks(xsAll.length ? Math.min(...xsAll) : 0, xsAll.length ? Math.max(...xsAll) : 1, 5, opts.integerX ?? false);
  const Y = niceTicks(ysAll.length ? Math.min(...ysAll) : 0, ysAll.length ? Math.max(...ysAll) : 1, 4, false, opts.yMin);
  const sx = (v: number): number => ml + ((v - X.lo) / (X.hi - X.lo)) * pw;
  const sy = (v: number): number => mt + ph - ((v - Y.lo) / (Y.hi - Y.lo)) * ph;
  const out: string[] = [];
  out.push(`<svg class="curve" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img"` +
    ` aria-label="${escapeHtml(opts.title ?? 'chart')}" font-family="system-ui, sans-serif" font-size="10">`);
  if (opts.title) out.push(`<text x="${ml}" y="14" font-weight="600" font-size="12">${escapeHtml(opts.title)}</text>`);
  if (withLegend) {
    series.forEach((s, i) => {
      const lx = ml + (i % 4) * Math.floor(pw / 4), ly = (opts.title ? 22 : 8) + Math.floor(i / 4) * 14 + 4;
      out.push(`<rect x="${lx}" y="${ly - 4}" width="10" height="3" fill="${s.colour ?? paletteColour(i)}"/>` +
        `<text x="${lx + 14}" y="${ly}">${escapeHtml(s.name)}</text>`);
    });
  }
  // grid and axes
  for (const v of Y.ticks) {
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${ml}" x2="${ml + pw}" y1="${y}" y2="${y}" stroke="#ececec"/>` +
      `<text x="${ml - 5}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#555555">${tickText(v, Y.step)}</text>`);
  }
  for (const v of X.ticks) {
    const x = sx(v).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${mt + ph}" y2="${mt + ph + 4}" stroke="#777777"/>` +
      `<text x="${x}" y="${mt + ph + 15}" text-anchor="middle" fill="#555555">${tickText(v, X.step)}</text>`);
  }
  out.push(`<line x1="${ml}" x2="${ml}" y1="${mt}" y2="${mt + ph}" stroke="#777777"/>` +
    `<line x1="${ml}" x2="${ml + pw}" y1="${mt + ph}" y2="${mt + ph}" stroke="#777777"/>`);
  if (opts.xLabel) out.push(`<text x="${ml + pw / 2}" y="${height - 4}" text-anchor="middle">${escapeHtml(opts.xLabel)}</text>`);
  if (opts.yLabel) {
    const y = mt + ph / 2;
    out.push(`<text x="12" y="${y}" text-anchor="middle" transform="rotate(-90 12 ${y})">${escapeHtml(opts.yLabel)}</text>`);
  }
  // data
  series.forEach((s, i) => {
    const colour = s.colour ?? paletteColour(i);
    const pts = s.points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${colour}" stroke-width="1.8" points="${pts.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ')}"/>`);
    }
    for (const p of pts) {
      out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.8" fill="${colour}"><title>${escapeHtml(`${s.name}: ${p[0]} → ${fmt(p[1], 4)}`)}</title></circle>`);
    }
  });
  if (!series.some((s) => s.points.length > 0)) out.push(`<text x="${ml + pw / 2}" y="${mt + ph / 2}" text-anchor="middle" fill="#999999">no data</text>`);
  out.push('</svg>');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------------
// The report

export interface ReportOptions {
  /** decimals of the distance values in the heatmaps (default 3) */
  precision?: number;
  /** the page title (default: "GM-NAS search report — <method>/<base> seed <seed>") */
  title?: string;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #dddddd; }
h3 { font-size: 15px; margin: 20px 0 8px; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #f1f1f1; border: 1px solid #dddddd; border-radius: 6px; padding: 12px; overflow: auto; }
table { border-collapse: collapse; background: #ffffff; margin: 6px 0 12px; }
th, td { border: 1px solid #dddddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.final td { background: #fff6d6; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 12px 0; }
dl.meta dt { color: #555555; }
dl.meta dd { margin: 0; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; background: #e6eefa; color: #234f8a; }
.badge.oracle { background: #fde2e1; color: #9b1c1c; border: 1px solid #e5a3a1; }
.final-box { background: #ffffff; border: 1px solid #dddddd; border-left: 4px solid #c99700; border-radius: 6px; padding: 12px 16px; }
.final-box .genotype { font-size: 14px; word-break: break-all; }
.oracle-note { color: #9b1c1c; font-weight: 600; }
.scroll { overflow-x: auto; background: #ffffff; border: 1px solid #dddddd; border-radius: 6px; padding: 8px; }
.split { background: #ffffff; border: 1px solid #dddddd; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
.candidates { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
figure.candidate { border: 1px solid #e2e2e2; border-radius: 6px; padding: 6px; }
figure.candidate.chosen { border: 2px solid #1b1b1b; }
figcaption { font-size: 12px; color: #444444; margin-top: 2px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
.leaf-card { background: #ffffff; border: 1px solid #dddddd; border-radius: 6px; padding: 8px 12px; }
.muted { color: #666666; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: middle; }
@media print { body { background: #ffffff; padding: 0; } .split, .leaf-card, .final-box { break-inside: avoid; } }
`;

/** The full offline report of a search (report.html). */
export function renderReport(result: SearchResult, opts: ReportOptions = {}): string {
  const precision = opts.precision ?? 3;
  const title = opts.title ?? `GM-NAS search report — ${result.method}/${result.base} seed ${result.seed}`;
  const body = [
    headerSection(result, title),
    finalSection(result),
    scoresSection(result),
    treeSection(result),
    splitsSection(result, precision),
    curvesSection(result),
    latencyTableSection(result),
    timingsSection(result),
    configSection(result),
    `<footer class="muted"><p>Generated by gmnas from result.json (version ${escapeHtml(result.version)}). This page is self-contained: it loads nothing.</p></footer>`,
  ].join('\n');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    // nothing may be fetched: inline styles only, images only as data: URIs
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function totalSeconds(r: SearchResult): { wall: number | null; summed: number } {
  const a = Date.parse(r.startedAt), b = Date.parse(r.finishedAt);
  const summed = Object.values(r.timings ?? {}).reduce((s, v) => s + (Number.isFinite(v) ? v : 0), 0);
  return { wall: Number.isFinite(a) && Number.isFinite(b) ? (b - a) / 1000 : null, summed };
}

function headerSection(r: SearchResult, title: string): string {
  const d = r.dataset;
  const { wall, summed } = totalSeconds(r);
  const rows: [string, string][] = [
    ['space', escapeHtml(r.space)],
    ['method', `${escapeHtml(r.method)} <span class="muted">(preset ${escapeHtml(r.config?.preset ?? '?')}, select ${escapeHtml(r.config?.select ?? '?')})</span>`],
    ['base', escapeHtml(r.base)],
    ['seed', escapeHtml(r.seed)],
    ['device', escapeHtml(r.device)],
    ['dataset', `${escapeHtml(d.name)} — ${escapeHtml(d.trainImages)} training images (weights half ${escapeHtml(d.weightsHalf)}, ` +
      `architecture half ${escapeHtml(d.archHalf)}), images ${escapeHtml(d.imageShape.join('×'))}, ${escapeHtml(d.classes)} classes`],
    ['started', escapeHtml(r.startedAt)],
    ['finished', escapeHtml(r.finishedAt)],
    ['total time', `${escapeHtml(wall === null ? '—' : formatSeconds(wall))} wall clock <span class="muted">(${escapeHtml(formatSeconds(summed))} in timed phases)</span>`],
  ];
  return `<header><h1>${escapeHtml(title)}</h1>` +
    `<dl class="meta">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl></header>`;
}

function benchCell(v: number | string | undefined): string {
  if (v === undefined) return '<td class="muted">—</td>';
  return typeof v === 'number' ? `<td class="num">${fmt(v, 2)}</td>` : `<td>${escapeHtml(v)}</td>`;
}

/** A cell DAG as SVG: inputs left, nodes in order, the output right; each edge labelled with its op
 *  (every intermediate node feeds the output, as DARTS concatenates them). */
export function cellDagSvg(dag: CellDag): string {
  const cols = [...dag.inputs.map((n) => [n, 0] as const), ...dag.nodes.map((n, i) => [n, i + 1] as const), [dag.output, dag.nodes.length + 1] as const];
  const X = (c: number): number => 40 + c * 120;
  const pos = new Map<string, { x: number; y: number }>();
  cols.forEach(([name, c], i) => pos.set(name, { x: X(c), y: c === 0 ? 40 + i * 110 : 95 + (i % 2 ? -30 : 30) }));
  const w = X(dag.nodes.length + 1) + 50, h = 200;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" class="cell-dag" width="${w}" height="${h}" font-family="sans-serif" font-size="10">`,
    `<text x="4" y="12" font-weight="700">${escapeHtml(dag.group)} cell</text>`];
  const line = (a: { x: number; y: number }, b: { x: number; y: number }, label: string, k: number): void => {
    const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2 + (k % 2 ? 8 : -4);
    out.push(`<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${label ? paletteColour(k) : '#bbbbbb'}" stroke-width="1.4"/>`);
    if (label) out.push(`<text x="${mx}" y="${my}" text-anchor="middle" fill="${paletteColour(k)}">${escapeHtml(label)}</text>`);
  };
  dag.edges.forEach((e, k) => line(pos.get(e.from)!, pos.get(e.to)!, e.op, k));
  for (const n of dag.nodes) line(pos.get(n)!, pos.get(dag.output)!, '', 0);
  for (const [name] of cols) {
    const p = pos.get(name)!;
    out.push(`<circle cx="${p.x}" cy="${p.y}" r="13" fill="#ffffff" stroke="#555555"/><text x="${p.x}" y="${p.y + 3}" text-anchor="middle">${escapeHtml(name)}</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

function genotypeTable(space: SearchSpace, genotype: string): string {
  let ops: readonly number[];
  try { ops = space.parseGenotype(genotype); } catch { return ''; }
  if (space.describeGenotype) return `<div class="cell-dags">${space.describeGenotype(ops).map(cellDagSvg).join('')}</div>`;
  const head = space.decisions.map((e) => `<th>${escapeHtml(e.key)}</th>`).join('');
  const cells = ops.map((o, e) => `<td><code>${escapeHtml(space.decisions[e].ops[o] ?? String(o))}</code></td>`).join('');
  return `<table class="genotype-edges"><tr><th>edge</th>${head}</tr><tr><th>op</th>${cells}</tr></table>`;
}

const SELECTED_BY: Record<string, string> = {
  'val-acc': 'highest validation accuracy of the leaves\' derived architectures, each run as a single path',
  'val-loss': 'lowest validation loss of the leaves\' derived architectures, each run as a single path',
  'supernet-val-acc': 'highest validation accuracy of the leaf supernets under their own architecture weights (the reference code\'s valid_acc)',
  halving: 'successive halving over short stand-alone trainings',
  bench: 'benchmark accuracy looked up in the NB201 table',
};

function finalSection(r: SearchResult): string {
  const f = r.final;
  const parts: string[] = ['<section id="final"><h2>Final architecture</h2><div class="final-box">'];
  parts.push(`<p><code class="genotype">${escapeHtml(f.genotype)}</code></p>`);
  parts.push(`<p>from leaf node ${escapeHtml(f.node)}, selected by <span class="badge">${escapeHtml(f.selectedBy)}</span> ` +
    `<span class="muted">(${escapeHtml(SELECTED_BY[f.selectedBy] ?? f.selectedBy)})</span>` +
    (f.oracle ? ' <span class="badge oracle">ORACLE</span>' : '') + '</p>');
  if (f.oracle) {
    parts.push('<p class="oracle-note">Oracle pick: the leaves were ranked by their benchmark accuracy, which a real search does not know. ' +
      'This is an upper bound for the partition, not a search result.</p>');
  }
  parts.push(genotypeTable(spaceOf(r), f.genotype));
  if (f.bench) {
    const keys = Object.keys(f.bench).filter((k) => k !== 'arch_str');
    if (keys.length) {
      parts.push(`<table class="bench"><tr>${keys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr>` +
        `<tr>${keys.map((k) => benchCell(f.bench![k])).join('')}</tr></table>`);
    }
  }
  if (f.cost) {
    // spaces with a cost model (MobileNet): what deployers ask for
    parts.push(`<p class="cost">cost: <b>${escapeHtml(f.cost.params)}</b> parameters, <b>${escapeHtml(f.cost.macs)}</b> multiply-adds per image at ` +
      `${escapeHtml(f.cost.resolution)}×${escapeHtml(f.cost.resolution)}` +
      (r.config.maxMacs !== undefined || r.config.maxParams !== undefined
        ? ` <span class="muted">(budget: ${[r.config.maxMacs !== undefined ? `≤ ${r.config.maxMacs} multiply-adds` : '', r.config.maxParams !== undefined ? `≤ ${r.config.maxParams} parameters` : ''].filter(Boolean).map(escapeHtml).join(', ')})</span>` : '') +
      '</p>');
  }
  if (f.retrain) {
    const rt = f.retrain;
    parts.push('<h3>Retrained stand-alone</h3>' +
      `<p>test accuracy <b>${escapeHtml(fmt(rt.testAccuracy, 2))} %</b>, loss ${escapeHtml(fmt(rt.testLoss, 4))}, ` +
      `${escapeHtml(rt.parameters)} parameters, ${escapeHtml(fmt(rt.seconds, 1))} s` +
      (rt.trainingStatsTest ? ` <span class="muted">(${escapeHtml(fmt(rt.trainingStatsTest.accuracy, 2))} % with the BN statistics training left)</span>` : '') + '</p>' +
      (rt.latency?.length ? `<p>latency (${escapeHtml(r.device)}, eval forward, median of ${escapeHtml(rt.latency[0].repeats)}): ` +
        `${rt.latency.map((l) => `batch ${escapeHtml(l.batch)} ${escapeHtml(fmt(l.medianMs, 1))} ms`).join(', ')} <span class="muted">(wall-clock, machine load included)</span></p>` : '') +
      `<p class="muted">protocol: ${escapeHtml(rt.protocol.description)}</p>`);
  }
  if (f.halving?.rounds.length) {
    parts.push('<h3>Successive halving</h3><table><tr><th>round</th><th>epochs</th><th>candidates (node: score)</th><th>kept</th></tr>');
    for (const round of f.halving.rounds) {
      const cand = round.candidates.map((c, i) => `${c}: ${fmt(round.scores[i], 2)}`).join(', ');
      parts.push(`<tr><td class="num">${escapeHtml(round.round + 1)}</td><td class="num">${escapeHtml(round.epochs)}</td>` +
        `<td>${escapeHtml(cand)}</td><td>${escapeHtml(round.kept.join(', '))}</td></tr>`);
    }
    parts.push('</table>');
  }
  parts.push('</div></section>');
  return parts.join('');
}

function scoresSection(r: SearchResult): string {
  const benchKeys: string[] = [];
  for (const l of r.leaves) for (const k of Object.keys(l.bench ?? {})) if (k !== 'arch_str' && !benchKeys.includes(k)) benchKeys.push(k);
  const scoreOf = new Map(r.final.scores.map((s) => [s.node, s.score]));
  const showScore = !['val-acc', 'val-loss', 'supernet-val-acc'].includes(r.final.selectedBy);
  const showSupernet = r.leaves.some((l) => l.supernetVal);
  const head = ['node', 'mask', 'genotype', 'val acc (%)', 'val loss', ...(showSupernet ? ['supernet val acc (%)'] : []),
    ...(showScore ? [`score (${r.final.selectedBy})`] : []),
    'epochs', 'time', ...benchKeys];
  const rows = [...r.leaves].sort((a, b) => a.node - b.node).map((l) => {
    const cls = l.node === r.final.node ? ' class="final"' : '';
    return `<tr${cls}><td class="num">${escapeHtml(l.node)}${l.node === r.final.node ? ' ★' : ''}</td>` +
      `<td><code>${escapeHtml(l.mask)}</code></td><td><code>${escapeHtml(l.genotype)}</code></td>` +
      `<td class="num">${fmt(l.val.accuracy, 2)}</td><td class="num">${fmt(l.val.loss, 4)}</td>` +
      (showSupernet ? `<td class="num">${fmt(l.supernetVal?.accuracy, 2)}</td>` : '') +
      (showScore ? `<td class="num">${fmt(scoreOf.get(l.node), 2)}</td>` : '') +
      `<td class="num">${escapeHtml(l.history.length)}</td><td class="num">${escapeHtml(formatSeconds(l.seconds))}</td>` +
      benchKeys.map((k) => benchCell(l.bench?.[k])).join('') + '</tr>';
  });
  const parts = ['<section id="scores"><h2>Leaves</h2>',
    `<div class="scroll"><table class="scores"><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>${rows.join('')}</table></div>`];
  if (benchKeys.length) parts.push('<p class="muted">Benchmark columns come from the NB201 table (not seen by the search unless the selection is the oracle).</p>');
  if (r.failedLeaves.length) {
    parts.push('<h3>Failed leaves</h3><table><tr><th>node</th><th>error</th></tr>' +
      r.failedLeaves.map((f) => `<tr><td class="num">${escapeHtml(f.node)}</td><td><code>${escapeHtml(f.error)}</code></td></tr>`).join('') + '</table>');
  }
  parts.push('</section>');
  return parts.join('');
}

function treeSection(r: SearchResult): string {
  const legend = '<p class="muted">Each box is a sub-supernet: its op mask has one row per edge (1&lt;-0, 2&lt;-0, 2&lt;-1, 3&lt;-0, 3&lt;-1, 3&lt;-2) ' +
    'and one cell per op (none, skip, conv 1×1, conv 3×3, avg pool); ' +
    '<span class="swatch" style="background:#3b6ea5"></span>enabled, <span class="swatch" style="background:#e08a1e"></span>enabled on a split edge, ' +
    '<span class="swatch" style="background:#e6e6e6"></span>disabled. Edge labels are the op group each child keeps.</p>';
  return `<section id="tree"><h2>Partition tree</h2>${legend}<div class="scroll">${treeSvg(r)}</div></section>`;
}

/** The op names of `edge` in the node's mask (the rows of its distance matrix), or indices. */
function edgeLabels(r: SearchResult, node: number, edge: number, n: number): string[] {
  const space = spaceOf(r);
  const mask = safeMask(space, r.tree.nodes.find((x) => x.id === node)?.mask ?? '');
  const ops = space.decisions[edge]?.ops ?? [];
  const names = mask ? space.enabledOps(mask, edge).map((o) => ops[o]) : [];
  return names.length === n ? names : n === ops.length ? [...ops] : Array.from({ length: n }, (_, i) => String(i));
}

function groupIndices(labels: readonly string[], groups: readonly (readonly string[])[]): number[][] {
  return groups.map((g) => g.map((op) => labels.indexOf(op)).filter((i) => i >= 0));
}

function splitsSection(r: SearchResult, precision: number): string {
  const parts = ['<section id="splits"><h2>Splits</h2>'];
  if (!r.splits.length) parts.push('<p class="muted">No splits (a one-shot search).</p>');
  parts.push('<p class="muted">GM distance between ops on an edge: 1 − cosine similarity of the shared weights\' gradients, ' +
    'averaged over repeats (darker = more disagreement). The chosen cut keeps ops that agree together; outlined cells are within a group.</p>');
  for (const s of r.splits) {
    const key = edgeKey(spaceOf(r), s.edge);
    parts.push('<div class="split">');
    parts.push(`<h3>Node ${escapeHtml(s.node)}: split on edge ${escapeHtml(s.edge)} (${escapeHtml(s.edgeName ?? key)}) ` +
      `<span class="badge">${escapeHtml(s.criterion)}</span></h3>`);
    const groupList = s.groups.map((g, k) => `<span class="swatch" style="background:${paletteColour(k)}"></span>` +
      `node ${escapeHtml(s.children[k] ?? '?')}: {${escapeHtml(g.join(', '))}}`).join(' &nbsp; ');
    parts.push(`<p>groups: ${groupList}${s.cutScore !== null ? ` &nbsp; — cut distance <b>${fmt(s.cutScore, precision)}</b>` : ''}</p>`);
    if (!s.distance) {
      parts.push(`<p class="muted">No distance matrix: a ${escapeHtml(s.criterion)} split does not measure gradients.</p></div>`);
      continue;
    }
    const labels = s.ops?.length === s.distance.length ? s.ops : edgeLabels(r, s.node, s.edge, s.distance.length);
    // one colour scale for the whole split, so the candidate edges can be compared by eye
    const values: number[] = [];
    for (const m of [s.distance, ...(s.candidates ?? []).map((c) => c.distance)]) {
      m.forEach((row, i) => row.forEach((v, j) => { if (i !== j && Number.isFinite(v)) values.push(v); }));
    }
    const min = values.length ? Math.min(...values) : undefined, max = values.length ? Math.max(...values) : undefined;
    parts.push(heatmapSvg(s.distance, labels, {
      title: `edge ${key}: distance matrix (chosen)`, precision, groups: groupIndices(labels, s.groups), chosen: true, min, max,
    }));
    if (s.candidates?.length) {
      parts.push(`<h3>Candidate edges (${s.candidates.length})</h3><div class="candidates">`);
      for (const c of s.candidates) {
        const chosen = c.edge === s.edge;
        const cl = edgeLabels(r, s.node, c.edge, c.distance.length);
        parts.push(`<figure class="candidate${chosen ? ' chosen' : ''}">`);
        parts.push(heatmapSvg(c.distance, cl.map(shortOpName), {
          title: `edge ${c.edge} (${edgeKey(spaceOf(r), c.edge)})${chosen ? ' ★ chosen' : ''}`, precision, cell: 38, fontSize: 9,
          groups: groupIndices(cl, c.groups), fullLabels: cl, legend: false, min, max, chosen,
        }));
        parts.push(`<figcaption>cut ${fmt(c.cutScore, precision)} — ${escapeHtml(c.groups.map((g) => `{${g.map(shortOpName).join(',')}}`).join(' '))}` +
          `${chosen ? ' — <b>chosen</b>' : ''}</figcaption></figure>`);
      }
      parts.push('</div>');
    }
    parts.push('</div>');
  }
  parts.push('</section>');
  return parts.join('');
}

function curvesSection(r: SearchResult): string {
  const leaves = [...r.leaves].sort((a, b) => a.node - b.node);
  const parts = ['<section id="curves"><h2>Training curves</h2>',
    '<p class="muted">Per epoch of the global schedule, as recorded by each leaf (epochs before the last split belong to its ancestors and are not in result.json).</p>'];
  if (!leaves.some((l) => l.history.length)) {
    parts.push('<p class="muted">No epochs recorded.</p></section>');
    return parts.join('');
  }
  const series = (pick: (h: SearchResult['leaves'][number]['history'][number]) => number) =>
    leaves.map((l, i) => ({ name: `node ${l.node}`, colour: paletteColour(i), points: l.history.map((h) => [h.epoch + 1, pick(h)] as const) }));
  parts.push('<div class="charts">');
  parts.push(lineChartSvg(series((h) => h.trainLoss), { title: 'train loss, all leaves', xLabel: 'epoch', yLabel: 'loss', integerX: true, width: 460, legend: true }));
  parts.push(lineChartSvg(series((h) => h.trainAccuracy), { title: 'train accuracy, all leaves', xLabel: 'epoch', yLabel: 'accuracy (%)', integerX: true, width: 460, legend: true, yMin: 0 }));
  parts.push('</div><h3>Per node</h3><div class="charts">');
  leaves.forEach((l, i) => {
    const colour = paletteColour(i);
    const loss = [{ name: 'train loss', colour, points: l.history.map((h) => [h.epoch + 1, h.trainLoss] as const) }];
    const acc = [{ name: 'train accuracy', colour, points: l.history.map((h) => [h.epoch + 1, h.trainAccuracy] as const) }];
    parts.push(`<div class="leaf-card" data-node="${escapeHtml(l.node)}"><b>node ${escapeHtml(l.node)}</b>${l.node === r.final.node ? ' ★ final' : ''} ` +
      `<span class="muted">— ${escapeHtml(l.history.length)} epoch(s), val ${fmt(l.val.accuracy, 2)} % / ${fmt(l.val.loss, 4)}</span><br>` +
      lineChartSvg(loss, { title: 'train loss', xLabel: 'epoch', integerX: true, width: 260, height: 170 }) +
      lineChartSvg(acc, { title: 'train accuracy (%)', xLabel: 'epoch', integerX: true, width: 260, height: 170, yMin: 0 }) + '</div>');
  });
  parts.push('</div></section>');
  return parts.join('');
}

/** `--latency-target`: the measured lookup table the latency loss used (ms, batch 1; src/nas/latency-table.ts) */
function latencyTableSection(r: SearchResult): string {
  const t = r.config.latencyTable;
  if (!t) return '';
  const space = spaceOf(r);
  const cols = Math.max(...t.ops.map((row) => row.length));
  const ops = space.decisions.find((d) => d.ops.length === cols)?.ops ?? [];
  const head = Array.from({ length: cols }, (_, j) => `<th>${escapeHtml(shortOpName(ops[j] ?? String(j)))}</th>`).join('');
  const rows = t.ops.map((row, d) => `<tr><td>${escapeHtml(edgeKey(space, d))}</td>${row.map((v) => `<td class="num">${v === null ? '' : escapeHtml(fmt(v, 3))}</td>`).join('')}</tr>`);
  return `<section id="latency"><h2>Latency lookup table</h2><p>${escapeHtml(t.device)}, batch ${escapeHtml(t.batch)}, forward, median of ${escapeHtml(t.repeats)} ` +
    `(after 2 warm-up runs), ms; target ${escapeHtml(r.config.latencyTarget ?? '')} ms; fixed parts ${escapeHtml(fmt(t.fixed, 3))} ms ` +
    `(${t.fixedParts.map((p) => `${escapeHtml(p.key)}: ${escapeHtml(fmt(p.ms, 3))}`).join('; ')}) <span class="muted">(wall-clock, machine load included)</span></p>` +
    `<table class="latency"><tr><th>decision</th>${head}</tr>${rows.join('')}</table></section>`;
}

function timingsSection(r: SearchResult): string {
  const entries = Object.entries(r.timings ?? {});
  const { wall, summed } = totalSeconds(r);
  const rows = entries.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td class="num">${fmt(v, 2)}</td>` +
    `<td class="num">${summed > 0 ? fmt((100 * v) / summed, 1) : '—'}</td><td>${escapeHtml(formatSeconds(v))}</td></tr>`);
  rows.push(`<tr><th>sum of phases</th><td class="num">${fmt(summed, 2)}</td><td class="num">100.0</td><td>${escapeHtml(formatSeconds(summed))}</td></tr>`);
  if (wall !== null) rows.push(`<tr><th>wall clock</th><td class="num">${fmt(wall, 2)}</td><td></td><td>${escapeHtml(formatSeconds(wall))}</td></tr>`);
  return `<section id="timings"><h2>Timings</h2><table class="timings"><tr><th>phase</th><th>seconds</th><th>share (%)</th><th></th></tr>${rows.join('')}</table></section>`;
}

function configSection(r: SearchResult): string {
  return `<section id="config"><h2>Configuration</h2><pre class="config">${escapeHtml(JSON.stringify(r.config, null, 2))}</pre></section>`;
}
