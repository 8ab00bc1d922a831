// Small SVG charts for the live search view: the training curve of a leaf's lineage (root → … → leaf,
// epoch by epoch) and the leaves' validation accuracies against chance. Plain strings, no DOM, so
// they are testable in Node and usable in any page.
import type { EpochRecord } from '../nas/phases.js';
import { escapeXml } from './svg-text.js';

export interface CurveSeries {
  label: string;
  points: readonly { epoch: number; value: number }[];
  /** drawn bold and in colour; the others are thin grey */
  highlight?: boolean;
}

export interface CurveOptions {
  title?: string;
  /** top of the y axis (default 100: percentages) */
  yMax?: number;
  /** a dashed horizontal line, e.g. chance accuracy */
  reference?: { value: number; label: string };
  /** last epoch on the x axis (default: the largest epoch in the data + 1) */
  epochs?: number;
  width?: number;
  height?: number;
}

/** A line chart of per-epoch values (x: epochs done, y: 0 … yMax). */
export function curveSvg(series: readonly CurveSeries[], o: CurveOptions = {}): string {
  const W = o.width ?? 460, H = o.height ?? 220;
  const left = 40, right = 12, top = o.title ? 24 : 10, bottom = 30;
  const yMax = o.yMax ?? 100;
  const maxEpoch = Math.max(1, o.epochs ?? 0, ...series.flatMap((s) => s.points.map((p) => p.epoch)));
  const x = (e: number): number => left + (e / maxEpoch) * (W - left - right);
  const y = (v: number): number => top + (1 - Math.min(yMax, Math.max(0, v)) / yMax) * (H - top - bottom);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="curve" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`);
  if (o.title) parts.push(`<text x="${left}" y="15" font-weight="600">${escapeXml(o.title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 5}" y="${y(v) + 4}" text-anchor="end" fill="#666">${Math.round(v)}</text>`);
  }
  for (let e = 0; e <= maxEpoch; e++) {
    parts.push(`<text x="${x(e)}" y="${H - bottom + 14}" text-anchor="middle" fill="#666">${e}</text>`);
  }
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 3}" text-anchor="middle" fill="#555">epochs</text>`);
  if (o.reference) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(o.reference.value)}" y2="${y(o.reference.value)}" stroke="#b00020" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${W - right - 2}" y="${y(o.reference.value) - 4}" text-anchor="end" fill="#b00020">${escapeXml(o.reference.label)}</text>`);
  }
  const ordered = [...series.filter((s) => !s.highlight), ...series.filter((s) => s.highlight)];
  for (const s of ordered) {
    if (!s.points.length) continue;
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.epoch).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    const colour = s.highlight ? '#08519c' : '#bbb';
    parts.push(`<g class="series${s.highlight ? ' highlight' : ''}" data-label="${escapeXml(s.label)}"><title>${escapeXml(s.label)}</title>`);
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="${s.highlight ? 2.5 : 1.2}"/>`);
    for (const p of s.points) parts.push(`<circle cx="${x(p.epoch).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="${s.highlight ? 3 : 2}" fill="${colour}"/>`);
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Training accuracy after each epoch along the path root → `leaf` (each node's own epochs). */
export function lineageCurve(leaf: number, parentOf: (id: number) => number | null, history: Record<number, readonly EpochRecord[]>): { epoch: number; value: number }[] {
  const path: number[] = [];
  for (let id: number | null = leaf; id !== null; id = parentOf(id)) path.unshift(id);
  const byEpoch = new Map<number, number>();
  for (const id of path) for (const r of history[id] ?? []) byEpoch.set(r.epoch + 1, r.trainAccuracy);
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([epoch, value]) => ({ epoch, value }));
}

export interface LeafScore {
  node: number;
  genotype: string;
  /** the score the selection uses (%), drawn as the main bar */
  accuracy: number;
  /** a second score drawn as a thin bar under it, e.g. the derived single path's accuracy */
  secondary?: number;
}

/** Horizontal bars of the leaves' validation accuracy (%), chance marked, the final pick starred. */
export function leafScoresSvg(leaves: readonly LeafScore[], o: { chance: number; finalNode?: number | null; title?: string; width?: number; legend?: [string, string] } = { chance: 10 }): string {
  const W = o.width ?? 460, rowH = 30, left = 70, right = 56;
  const top = o.title ? 24 : 8;
  const H = top + Math.max(1, leaves.length) * rowH + 22 + (o.legend ? 16 : 0);
  const x = (v: number): number => left + (Math.min(100, Math.max(0, v)) / 100) * (W - left - right);
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="leaf-scores" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`);
  if (o.title) parts.push(`<text x="0" y="15" font-weight="600">${escapeXml(o.title)}</text>`);
  leaves.forEach((l, i) => {
    const yTop = top + i * rowH;
    const isFinal = o.finalNode !== undefined && o.finalNode !== null && l.node === o.finalNode;
    const second = l.secondary !== undefined ? ` data-secondary="${l.secondary.toFixed(2)}"` : '';
    parts.push(`<g class="leaf-score" data-node="${l.node}" data-accuracy="${l.accuracy.toFixed(2)}"${second}><title>${escapeXml(l.genotype)}</title>`);
    parts.push(`<text x="${left - 6}" y="${yTop + 15}" text-anchor="end">leaf ${l.node}${isFinal ? ' ★' : ''}</text>`);
    parts.push(`<rect x="${left}" y="${yTop + 3}" width="${Math.max(0, x(l.accuracy) - left).toFixed(1)}" height="14" fill="${isFinal ? '#c58b00' : '#1b9e77'}"/>`);
    parts.push(`<text x="${x(l.accuracy) + 4}" y="${yTop + 14}">${l.accuracy.toFixed(1)} %</text>`);
    if (l.secondary !== undefined) {
      parts.push(`<rect x="${left}" y="${yTop + 19}" width="${Math.max(0, x(l.secondary) - left).toFixed(1)}" height="6" fill="#9ecae1"/>`);
      parts.push(`<text x="${x(l.secondary) + 4}" y="${yTop + 26}" font-size="9" fill="#555">${l.secondary.toFixed(1)} %</text>`);
    }
    parts.push('</g>');
  });
  const chanceX = x(o.chance);
  parts.push(`<line x1="${chanceX}" x2="${chanceX}" y1="${top}" y2="${H - 18 - (o.legend ? 16 : 0)}" stroke="#b00020" stroke-dasharray="4 3"/>`);
  const axisY = H - 5 - (o.legend ? 16 : 0);
  parts.push(`<text x="${chanceX}" y="${axisY}" text-anchor="middle" fill="#b00020">chance ${o.chance.toFixed(o.chance % 1 ? 1 : 0)} %</text>`);
  if (o.legend) {
    parts.push(`<rect x="${left}" y="${H - 13}" width="12" height="8" fill="#1b9e77"/><text x="${left + 16}" y="${H - 5}">${escapeXml(o.legend[0])}</text>`);
    parts.push(`<rect x="${left + 190}" y="${H - 11}" width="12" height="5" fill="#9ecae1"/><text x="${left + 206}" y="${H - 5}">${escapeXml(o.legend[1])}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
