// The public browser API: the entry point of dist/gmnas.browser.js (one ESM bundle, built by
// scripts/build.mjs with esbuild, platform 'browser'). The WGSL kernels travel inside it as strings
// (src/engine/webgpu/shaders.generated.ts) and so does gmnas.wasm, base64-encoded
// (src/nas/wasm.generated.ts), so a page needs this one file and nothing fetched next to it.
//
// What a page gets:
//   - the engine: Tensor and its ops, autograd, nn layers, optimizers (same code as in Node);
//   - devices: `openDevice()` (WebGPU on navigator.gpu, else the wasm backend, else the CPU reference backend, with a note),
//     `createBackend`, `WebGpuBackend`, `CpuBackend`, `adapterReport`;
//   - the self-test: `runSelftest(gpu, cpu, { quick: true })` (every kernel vs the CPU reference);
//   - the search off the main thread: `startSearch()` runs it in a Web Worker (dist/gmnas.worker.js,
//     src/browser/worker.ts) with its own device, on a Dataset, the embedded Fashion-MNIST or the
//     synthetic set, with browser presets, live state, Stop, and result.json + checkpoint bytes;
//   - data: `loadEmbeddedFashionMnist()` (fetch + DecompressionStream + SHA-256 check) and
//     `datasetFromFiles()` (the user's IDX / CIFAR files, wrong ones refused with clear messages);
//   - the search on the page's own thread: `runSearch` with `defaultSearchConfig`, `prepareSearchData`,
//     `MemoryStore`, the built-in synthetic dataset (`generateSynthetic`), and `searchInPage()`, which
//     wires them together and yields to the event loop after every epoch so the page repaints;
//   - drawing helpers for results: `gmHeatmapSvg` (a split's GM distance matrix),
//     `partitionTreeSvg` (the partition tree with leaves and the final pick), `curveSvg` +
//     `lineageCurve` (training curves) and `leafScoresSvg` (the leaves against chance).
// docs/browser.md describes the worker protocol, the data, the presets and their figures.
// Node-only parts (the piscina leaf pool, FileStore, dataset readers) are not imported here: in a
// page the leaves run one after another on the page's device.
import type { Backend } from './engine/backend.js';
import { generateSynthetic } from './data/synthetic.js';
import { defaultSearchConfig, type PresetName, type SearchConfig, type SearchMethod } from './nas/config.js';
import { prepareSearchData, type LeafResult, type ProgressListener } from './nas/phases.js';
import { runSearch, type RunState, type SearchResult } from './nas/search.js';
import { MemoryStore } from './nas/store.js';
import type { SplitRecord } from './nas/tree.js';
import { getSpace, type SearchSpace } from './spaces/registry.js';
import { liveStateOf, type LiveSearchState } from './browser/live-state.js';
import { yieldToEventLoop } from './browser/yield.js';
import { escapeXml } from './browser/svg-text.js';

// ---------------------------------------------------------------------------------------------------
// Re-exports: the documented surface

export * from './engine/index.js';
export { CpuBackend } from './engine/cpu/cpu-backend.js';
export { WebGpuBackend } from './engine/webgpu/webgpu-backend.js';
export type { WebGpuBackendOptions } from './engine/webgpu/webgpu-backend.js';
export { GpuError, requestAdapter, describeAdapter } from './engine/webgpu/device.js';
export type { AdapterDescription } from './engine/webgpu/device.js';
export { createBackend, describeBackend, NO_ADAPTER_NOTICE } from './engine/select-backend.js';
export type { BackendKind, CreateBackendOptions } from './engine/select-backend.js';
export { runSelftest } from './selftest/run.js';
export type { SelftestRow, SelftestOptions, SelftestReport } from './selftest/run.js';
export { supernetStepComparison } from './selftest/supernet-step.js';
export type { SupernetStepResult } from './selftest/supernet-step.js';
export { adapterReport, formatAdapterReport } from './selftest/adapter.js';
export type { AdapterReport } from './selftest/adapter.js';
export { generateSynthetic, SYNTHETIC_CLASS_NAMES, SYNTHETIC_NORMALIZATION } from './data/synthetic.js';
export type { SyntheticOptions } from './data/synthetic.js';
export type { Dataset } from './data/dataset.js';
export { defaultSearchConfig, validateSearchConfig, PRESETS, SEARCH_METHODS } from './nas/config.js';
export type { SearchConfig, PresetName, SearchMethod } from './nas/config.js';
export { prepareSearchData } from './nas/phases.js';
export type { SearchData, ProgressEvent, ProgressListener, LeafResult, EpochRecord } from './nas/phases.js';
export { runSearch, StopRequested } from './nas/search.js';
export type { RunSearchOptions, SearchResult, RunState, FinalPick } from './nas/search.js';
export { MemoryStore } from './nas/store.js';
export type { RunStore } from './nas/store.js';
export type { SplitRecord } from './nas/tree.js';
export { initGmnasWasm, balancedMinCut, chooseSplitEdge } from './nas/cut.js';
export { getSpace, SPACE_NAMES, DEFAULT_SPACE_NAME } from './spaces/registry.js';
export type { SearchSpace, OpMask, Genotype, Decision } from './spaces/space.js';
export { makeDataset, takeFirst, DataError } from './data/dataset.js';
export { parseIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, FASHION_MNIST_CLASS_NAMES } from './data/idx-format.js';
export { decodeCifarBatch } from './data/cifar-format.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';

// the search in a Web Worker, the embedded data and the user's files, browser presets, live charts
export { startSearch } from './browser/start-search.js';
export type { StartSearchOptions, SearchRun, SearchArtifacts } from './browser/start-search.js';
export type { DeviceChoice } from './browser/protocol.js';
export {
  loadEmbeddedFashionMnist, embeddedDataUrl, datasetFromFiles, readPickedFiles, fetchBytes, gunzipIfNeeded, sha256Hex, parseSha256Sums,
} from './browser/datasets.js';
export type { DataLoadProgress, DataProgressListener, EmbeddedLoadOptions, NamedBytes, PickedFormat } from './browser/datasets.js';
export { BROWSER_PRESETS, browserSearchConfig } from './browser/presets.js';
export type { BrowserPresetName, AnyPresetName, BrowserConfigOptions } from './browser/presets.js';
export { BrowserRunStore } from './browser/store.js';
export { liveStateOf } from './browser/live-state.js';
export { curveSvg, lineageCurve, leafScoresSvg } from './browser/charts.js';
export type { CurveSeries, CurveOptions, LeafScore } from './browser/charts.js';

// ---------------------------------------------------------------------------------------------------
// Devices (src/browser/device.ts)

export { openDevice } from './browser/device.js';
export type { OpenedDevice, OpenDeviceOptions } from './browser/device.js';

// ---------------------------------------------------------------------------------------------------
// Searching in a page

export { yieldToEventLoop } from './browser/yield.js';
export type { LiveSearchState } from './browser/live-state.js';

/**
 * A MemoryStore that reports every saved run state (after every epoch, split and leaf) and then yields
 * to the event loop, so progress shows even when the CPU backend keeps the main thread busy.
 */
export class ObservedStore extends MemoryStore {
  constructor(private readonly onState: (s: LiveSearchState) => void, private readonly yieldEachSave = true) {
    super();
  }

  override async writeState(state: unknown): Promise<void> {
    await super.writeState(state);
    this.onState(liveStateOf(state as RunState));
    if (this.yieldEachSave) await yieldToEventLoop();
  }
}

export interface SearchInPageOptions {
  backend: Backend;
  /** named in the result (default: the backend's description) */
  deviceName?: string;
  /** 'tiny' (seconds on a GPU) or 'quick' (the CLI default); default 'tiny' */
  preset?: PresetName;
  method?: SearchMethod;
  seed?: number;
  /** synthetic training images (default: the preset's) */
  syntheticSize?: number;
  /** any other config fields, applied last */
  config?: Partial<SearchConfig>;
  onProgress?: ProgressListener;
  onLog?: (line: string) => void;
  /** called after every saved state: the tree, the splits (with their GM matrices) and finished leaves */
  onState?: (s: LiveSearchState) => void;
}

/** The search config `searchInPage` uses for these options. */
export function pageSearchConfig(o: Omit<SearchInPageOptions, 'backend'> = {}): SearchConfig {
  const base = defaultSearchConfig({ preset: o.preset ?? 'tiny', ...(o.method ? { method: o.method } : {}) });
  return {
    ...base,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.syntheticSize !== undefined ? { syntheticSize: o.syntheticSize } : {}),
    ...o.config,
  };
}

/** A GM-NAS search on the built-in synthetic dataset, in memory, with live state for drawing. */
export async function searchInPage(o: SearchInPageOptions): Promise<SearchResult> {
  const config = pageSearchConfig(o);
  if (config.dataset !== 'synthetic') throw new Error(`searchInPage: only the built-in 'synthetic' dataset is available in a page, got '${config.dataset}'`);
  const images = config.trainLimit ?? config.syntheticSize ?? 5000;
  const data = prepareSearchData(config, generateSynthetic({ split: 'train', size: images, seed: config.seed }));
  const store = new ObservedStore(o.onState ?? (() => {}));
  return runSearch({
    config, backend: o.backend, data, store, deviceName: o.deviceName ?? o.backend.description,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onLog ? { onLog: o.onLog } : {}),
  });
}

// ---------------------------------------------------------------------------------------------------
// Drawing

export { escapeXml } from './browser/svg-text.js';

const SHORT_OP: Record<string, string> = {
  none: 'none', skip_connect: 'skip', nor_conv_1x1: 'conv1', nor_conv_3x3: 'conv3', avg_pool_3x3: 'pool',
};
/** A short name for an NB201 op (labels in small drawings). */
export const shortOp = (op: string): string => SHORT_OP[op] ?? op;

/** 'e3 (3<-0)' */
export const edgeLabel = (edge: number, space: SearchSpace = getSpace()): string => `e${edge} (${space.decisions[edge]?.key ?? '?'})`;

/** Low distance (similar gradients) light, high distance dark: white → teal → deep blue. */
function heatColour(t: number): string {
  const stops: [number, number, number][] = [[247, 252, 240], [123, 204, 196], [8, 64, 129]];
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export interface HeatmapOptions {
  title?: string;
  /** the chosen cut: each label's group is marked with a coloured bar */
  groups?: string[][];
  /** cell size in px (default 40) */
  cell?: number;
  /** print the values in the cells (default: when cells are at least 30 px) */
  values?: boolean;
}

const GROUP_COLOURS = ['#d95f02', '#7570b3', '#1b9e77', '#e7298a', '#66a61e'];

/**
 * An SVG heatmap of a GM distance matrix (D = 1 − cos of the ops' gradients; small: the ops agree).
 * `labels` name the rows/columns (op names). The colour scale runs from 0 to the largest off-diagonal
 * value; the diagonal is hatched grey (it is not used by the cut).
 */
export function gmHeatmapSvg(matrix: readonly (readonly number[])[], labels: readonly string[], o: HeatmapOptions = {}): string {
  const n = matrix.length;
  const cell = o.cell ?? 40;
  const showValues = o.values ?? cell >= 30;
  const labelW = Math.max(...labels.map((l) => shortOp(l).length), 3) * 7 + 14;
  const titleH = o.title ? 18 : 0;
  const top = titleH + labelW;
  const left = labelW;
  const w = left + n * cell + 4, h = top + n * cell + 18;
  let max = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j && Number.isFinite(matrix[i][j])) max = Math.max(max, matrix[i][j]);
  const groupOf = (label: string): number => (o.groups ?? []).findIndex((g) => g.includes(label));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="gm-heatmap" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif" font-size="11">`);
  if (o.title) parts.push(`<text x="0" y="13" font-weight="600">${escapeXml(o.title)}</text>`);
  for (let i = 0; i < n; i++) {
    const name = escapeXml(shortOp(labels[i] ?? String(i)));
    const g = groupOf(labels[i] ?? '');
    const colour = g >= 0 ? GROUP_COLOURS[g % GROUP_COLOURS.length] : '#333';
    // row label (left) and column label (top, rotated)
    parts.push(`<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" fill="${colour}">${name}</text>`);
    const cx = left + i * cell + cell / 2 + 4;
    parts.push(`<text transform="translate(${cx},${top - 8}) rotate(-90)" fill="${colour}">${name}</text>`);
    if (g >= 0) {
      parts.push(`<rect x="${left - 5}" y="${top + i * cell + 2}" width="3" height="${cell - 4}" fill="${colour}"/>`);
      parts.push(`<rect x="${left + i * cell + 2}" y="${top - 5}" width="${cell - 4}" height="3" fill="${colour}"/>`);
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = left + j * cell, y = top + i * cell;
      const v = matrix[i][j];
      if (i === j) {
        parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="#e4e4e4" stroke="#fff"/>`);
        continue;
      }
      const t = max > 0 ? v / max : 0;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${heatColour(t)}" stroke="#fff"><title>${escapeXml(`${labels[i]} vs ${labels[j]}: ${v.toFixed(4)}`)}</title></rect>`);
      if (showValues) {
        parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="10" fill="${t > 0.55 ? '#fff' : '#222'}">${Number.isFinite(v) ? v.toFixed(2) : '—'}</text>`);
      }
    }
  }
  parts.push(`<text x="${left}" y="${h - 4}" font-size="10" fill="#555">1 − cos; scale 0 … ${max.toFixed(3)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** The row/column labels of a split's chosen-edge matrix: the edge's enabled ops in op order. */
export function splitMatrixLabels(split: Pick<SplitRecord, 'groupIndices' | 'edge'>, space: SearchSpace = getSpace()): string[] {
  return split.groupIndices.flat().sort((a, b) => a - b).map((i) => space.decisions[split.edge].ops[i]);
}

/** The row/column labels of a candidate edge's matrix (its groups' ops, in op order). */
export function candidateMatrixLabels(groups: readonly (readonly string[])[], space: SearchSpace = getSpace(), edge = 0): string[] {
  const order = (op: string): number => space.decisions[edge].ops.indexOf(op);
  return groups.flat().sort((a, b) => order(a) - order(b));
}

export interface TreeDrawingInput {
  tree: { nodes: readonly { id: number; parent: number | null; depth: number; children: readonly number[]; archs?: number }[] };
  splits: readonly Pick<SplitRecord, 'node' | 'edge' | 'groups' | 'children'>[];
  leaves?: readonly (Pick<LeafResult, 'node' | 'genotype' | 'val'> & Partial<Pick<LeafResult, 'supernetVal'>>)[];
  /** which accuracy a leaf shows: its derived path's ('path', default) or its supernet's ('supernet',
   *  when the search selects by it) */
  leafScore?: 'path' | 'supernet';
  /** the final pick's node, highlighted */
  finalNode?: number | null;
  /** epochs done per node, shown under unfinished nodes */
  epochsDone?: Record<number, number>;
}

/**
 * An SVG drawing of the partition tree: one box per node (id, admitted architectures), the split edge
 * and each child's op group on the links, the leaves' validation accuracy, the final pick outlined.
 */
export function partitionTreeSvg(t: TreeDrawingInput): string {
  const nodes = t.tree.nodes;
  if (!nodes.length) return '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>';
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const leafOf = new Map((t.leaves ?? []).map((l) => [l.node, l]));
  // x: leaves take consecutive slots in depth-first order; a parent sits over its children's middle
  const slot = new Map<number, number>();
  let next = 0;
  const place = (id: number): number => {
    const n = byId.get(id)!;
    const x = n.children.length ? n.children.map(place).reduce((a, b) => a + b, 0) / n.children.length : next++;
    slot.set(id, x);
    return x;
  };
  place(nodes.find((n) => n.parent === null)?.id ?? nodes[0].id);
  const depth = Math.max(...nodes.map((n) => n.depth));
  const colW = 170, rowH = 110, boxW = 128, boxH = 40, pad = 16;
  const w = Math.max(1, next) * colW + 2 * pad, h = depth * rowH + boxH + 2 * pad;
  const cx = (id: number): number => pad + slot.get(id)! * colW + colW / 2;
  const cy = (d: number): number => pad + d * rowH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" class="partition-tree" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="system-ui, sans-serif" font-size="11">`);
  const halo = 'paint-order="stroke" stroke="#fff" stroke-width="3"';
  for (const s of t.splits) {
    const p = byId.get(s.node);
    if (!p) continue;
    const x1 = cx(p.id), y1 = cy(p.depth) + boxH;
    s.children.forEach((childId) => {
      const c = byId.get(childId);
      if (!c) return;
      parts.push(`<line x1="${x1}" y1="${y1}" x2="${cx(c.id)}" y2="${cy(c.depth)}" stroke="#999"/>`);
    });
    // the split edge under the parent, each child's op group just above the child
    parts.push(`<text x="${x1}" y="${y1 + 14}" text-anchor="middle" fill="#08519c" ${halo}>split ${escapeXml(edgeLabel(s.edge))}</text>`);
    s.children.forEach((childId, k) => {
      const c = byId.get(childId);
      if (!c) return;
      const label = `{${(s.groups[k] ?? []).map(shortOp).join(', ')}}`;
      parts.push(`<text x="${cx(c.id)}" y="${cy(c.depth) - 7}" text-anchor="middle" fill="#444" ${halo}>${escapeXml(label)}</text>`);
    });
  }
  for (const n of nodes) {
    const x = cx(n.id) - boxW / 2, y = cy(n.depth);
    const leaf = leafOf.get(n.id);
    const isFinal = t.finalNode !== undefined && t.finalNode !== null && t.finalNode === n.id;
    const fill = isFinal ? '#fff3c4' : leaf ? '#e8f4ea' : '#f2f2f7';
    parts.push(`<g class="tree-node" data-node="${n.id}">`);
    parts.push(`<rect x="${x}" y="${y}" width="${boxW}" height="${boxH}" rx="6" fill="${fill}" stroke="${isFinal ? '#c58b00' : '#888'}" stroke-width="${isFinal ? 2.5 : 1}"/>`);
    parts.push(`<text x="${x + boxW / 2}" y="${y + 15}" text-anchor="middle" font-weight="600">node ${n.id}${n.archs !== undefined ? ` · ${n.archs} archs` : ''}</text>`);
    let sub = '';
    if (leaf) {
      sub = t.leafScore === 'supernet' && leaf.supernetVal
        ? `supernet val ${leaf.supernetVal.accuracy.toFixed(1)} %${isFinal ? ' ★' : ''}`
        : `val acc ${leaf.val.accuracy.toFixed(1)} %${isFinal ? ' ★' : ''}`;
    }
    else if (t.epochsDone?.[n.id] !== undefined) sub = `epochs done: ${t.epochsDone[n.id]}`;
    if (sub) parts.push(`<text x="${x + boxW / 2}" y="${y + 31}" text-anchor="middle" fill="#333">${escapeXml(sub)}</text>`);
    if (leaf) parts.push(`<title>${escapeXml(leaf.genotype)}</title>`);
    parts.push('</g>');
  }
  parts.push('</svg>');
  return parts.join('');
}

/** An NB201 genotype as an HTML table: one row per cell node, one entry per incoming edge. */
export function genotypeHtml(genotype: string): string {
  const rows = genotype.split('+').map((part, i) => {
    const ops = part.split('|').filter(Boolean).map((tok) => {
      const [op, from] = tok.split('~');
      return `<span class="op op-${escapeXml(op)}">${escapeXml(op)} ← ${escapeXml(from ?? '?')}</span>`;
    });
    return `<tr><th>node ${i + 1}</th><td>${ops.join(' ')}</td></tr>`;
  });
  return `<table class="genotype">${rows.join('')}</table>`;
}
