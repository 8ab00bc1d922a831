// Balanced min-cut of a GM distance matrix and the choice of the edge to split (GM-NAS spec §3.4–3.5),
// computed by gmnas.wasm (assembly/mincut.ts). This file also owns the Wasm loader that halving.ts uses.
//
// Conventions (shared with assembly/mincut.ts):
// * Input matrices are DISTANCES, GM's D = 1 − cos (or any other dissimilarity: per-filter cosine, L2).
//   Only the strict upper triangle is read; the diagonal is ignored; the lower triangle must mirror it.
// * intraScore = Σ D[i][j] over pairs in the same group; cutScore = Σ D[i][j] over pairs in different
//   groups. With fixed group sizes the number of cut pairs is fixed, so the partition with the smallest
//   intra distance = the largest cut distance = the smallest cut SIMILARITY (the paper's min-cut).
// * Group k has sizes[k] ops. `groups: B` means sizes as equal as possible, smaller groups first (5 ops,
//   B = 2 → [2, 3], GM's split). Groups of equal size are ordered by their smallest op.
// * Ties between partitions: the lexicographically smallest label vector (op i's group index, i = 0…)
//   wins; for GM's 5-op [2,3] split that is GM's first pair (a,b) in lexicographic order.
// * Edge choice (criterion 'max-cut', NB201 and OFA in GM): the edge with the LARGEST cut distance, i.e.
//   whose groups are the most dissimilar; 'min-intra' (GM's DARTS-space and ProxylessNAS code): the edge
//   with the smallest intra distance. Ties go to the lowest edge id (GM's strict comparison over ascending
//   edge ids). Unlike GM we start from the first edge rather than from score 0, so an all-zero matrix
//   still yields an edge.
import { WASM_BASE64 } from './wasm.generated.js';

// ---------------------------------------------------------------------------------------------------
// Wasm loading and marshalling

/** Exports of gmnas.wasm (see assembly/index.ts). Pointers are byte offsets into `memory`. */
export interface GmnasWasm {
  memory: WebAssembly.Memory;
  MAX_ITEMS: WebAssembly.Global;
  scratchBase(): number;
  reserveScratch(bytes: number): number;
  balancedMinCut(n: number, matrixPtr: number, groups: number, sizesPtr: number,
                 outLabelsPtr: number, outScoresPtr: number): number;
  chooseSplitEdge(edgeCount: number, n: number, matricesPtr: number, groups: number, sizesPtr: number,
                  criterion: number, outLabelsPtr: number, outScoresPtr: number): number;
  lastPartitionsVisited(): number;
  halvingKeepCount(alive: number, eta: number): number;
  halvingRoundsToOne(candidates: number, eta: number): number;
  halvingSchedule(candidates: number, eta: number, rounds: number, budget: number,
                  epochsPtr: number, outPtr: number): number;
  reduceCurves(count: number, valuesPtr: number, offsetsPtr: number, reduction: number,
               higherIsBetter: number, outPtr: number): void;
  rankCandidates(count: number, scoresPtr: number, higherIsBetter: number, outOrderPtr: number): void;
}

let wasmInstance: GmnasWasm | null = null;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // atob exists in browsers, workers and Node ≥ 16; Buffer would tie this file to Node.
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function instantiate(module: WebAssembly.Module): GmnasWasm {
  return new WebAssembly.Instance(module, {}).exports as unknown as GmnasWasm;
}

/**
 * The gmnas.wasm instance, compiled synchronously on first use (the module is ~2 KB, below the 4 KB
 * limit browsers put on synchronous compilation on the main thread). Call `initGmnasWasm()` first where
 * synchronous compilation is not allowed.
 */
export function gmnasWasm(): GmnasWasm {
  if (!wasmInstance) {
    try {
      wasmInstance = instantiate(new WebAssembly.Module(decodeBase64(WASM_BASE64)));
    } catch (err) {
      throw new Error(`gmnas.wasm: synchronous instantiation failed (${(err as Error).message}); ` +
        'call `await initGmnasWasm()` before using the cut or halving functions');
    }
  }
  return wasmInstance;
}

/** Compiles gmnas.wasm asynchronously; afterwards every function here runs without compiling. */
export async function initGmnasWasm(): Promise<void> {
  if (!wasmInstance) wasmInstance = instantiate(await WebAssembly.compile(decodeBase64(WASM_BASE64)));
}

type ArrayKind = 'f64' | 'i32';

/**
 * Named f64/i32 arrays laid out back to back (8-byte aligned) in the Wasm scratch region. Views are made
 * after the region is reserved, because growing memory detaches earlier views.
 */
export class ScratchArrays<Name extends string> {
  private readonly offsets = new Map<Name, { offset: number; kind: ArrayKind; length: number }>();
  private readonly base: number;

  constructor(private readonly wasm: GmnasWasm, arrays: Record<Name, [ArrayKind, number]>) {
    let bytes = 0;
    for (const name of Object.keys(arrays) as Name[]) {
      const [kind, length] = arrays[name];
      this.offsets.set(name, { offset: bytes, kind, length });
      bytes += Math.ceil((length * (kind === 'f64' ? 8 : 4)) / 8) * 8;
    }
    this.base = wasm.reserveScratch(bytes);
    if (this.base === 0) throw new Error(`gmnas.wasm: cannot grow memory to ${bytes} bytes of scratch`);
  }

  ptr(name: Name): number {
    return this.base + this.slot(name).offset;
  }

  f64(name: Name): Float64Array {
    const slot = this.slot(name);
    return new Float64Array(this.wasm.memory.buffer, this.base + slot.offset, slot.length);
  }

  i32(name: Name): Int32Array {
    const slot = this.slot(name);
    return new Int32Array(this.wasm.memory.buffer, this.base + slot.offset, slot.length);
  }

  private slot(name: Name) {
    const slot = this.offsets.get(name);
    if (!slot) throw new Error(`ScratchArrays: no array named ${name}`);
    return slot;
  }
}

// ---------------------------------------------------------------------------------------------------
// Public API

/** Most ops a matrix may have (static search state in the Wasm module). */
export const MAX_CUT_OPS = 32;
/** Most partitions one exact search may enumerate (about a second of Wasm time). */
export const MAX_CUT_PARTITIONS = 30_000_000;
/** Default tolerance for D[i][j] vs D[j][i], relative to max(1, |D[i][j]|, |D[j][i]|). */
export const DEFAULT_SYMMETRY_TOLERANCE = 1e-6;

export type DistanceMatrix = ArrayLike<ArrayLike<number>>;

export interface BalancedCut {
  /** Op indices of each group, ascending; group k has sizes[k] ops. */
  groups: number[][];
  /** Group sizes used (given, or as equal as possible with smaller groups first). */
  sizes: number[];
  /** Group index of each op. */
  labels: number[];
  /** Σ D[i][j] over pairs i<j in different groups (maximised). */
  cutScore: number;
  /** Σ D[i][j] over pairs i<j in the same group (minimised). */
  intraScore: number;
}

export interface CutOptions {
  /** Largest accepted |D[i][j] − D[j][i]| relative to max(1, |D[i][j]|, |D[j][i]|). */
  symmetryTolerance?: number;
}

/** How `chooseSplitEdge` compares edges: 'max-cut' (GM on NB201, default) or 'min-intra' (GM's DARTS space). */
export type EdgeCriterion = 'max-cut' | 'min-intra';

export interface EdgeCut extends BalancedCut {
  edge: number;
}

export interface SplitEdgeChoice extends EdgeCut {
  criterion: EdgeCriterion;
  /** Every candidate edge's best cut, in ascending edge id. */
  perEdge: EdgeCut[];
}

export interface SplitEdgeOptions extends CutOptions {
  criterion?: EdgeCriterion;
}

/** Group sizes as equal as possible (differing by at most 1), smaller groups first: (5, 2) → [2, 3]. */
export function balancedGroupSizes(n: number, branches: number): number[] {
  checkInteger(n, 'n', 2, MAX_CUT_OPS);
  checkInteger(branches, 'groups (branching factor)', 2, n);
  const small = Math.floor(n / branches);
  const large = n % branches;
  return [...Array(branches - large).fill(small), ...Array(large).fill(small + 1)];
}

/** Number of distinct partitions of sum(sizes) ops into groups of these sizes (groups of equal size unordered). */
export function partitionCount(sizes: readonly number[]): number {
  let remaining = sizes.reduce((a, b) => a + b, 0);
  let count = 1;
  for (const size of sizes) {
    count *= binomial(remaining, size);
    remaining -= size;
  }
  const multiplicity = new Map<number, number>();
  for (const size of sizes) multiplicity.set(size, (multiplicity.get(size) ?? 0) + 1);
  for (const m of multiplicity.values()) count /= factorial(m);
  return Math.round(count);
}

/**
 * Partition the ops of a symmetric distance matrix into groups of the given sizes (or `groups` groups
 * as equal as possible) so that the distance across groups is maximal; exact, by enumeration.
 */
export function balancedMinCut(distance: DistanceMatrix, groups: number | readonly number[],
                               options: CutOptions = {}): BalancedCut {
  const n = matrixOrder(distance, 'distance');
  const sizes = resolveGroupSizes(n, groups, 'groups');
  const flat = flattenDistance(distance, n, 'distance', options.symmetryTolerance);
  const wasm = gmnasWasm();
  const scratch = new ScratchArrays(wasm, {
    matrix: ['f64', n * n], sizes: ['i32', sizes.length], labels: ['i32', n], scores: ['f64', 2],
  });
  scratch.f64('matrix').set(flat);
  scratch.i32('sizes').set(sizes);
  const status = wasm.balancedMinCut(n, scratch.ptr('matrix'), sizes.length, scratch.ptr('sizes'),
    scratch.ptr('labels'), scratch.ptr('scores'));
  if (status !== 0) throw new Error(`balancedMinCut: gmnas.wasm rejected the arguments (code ${status})`);
  return cutFromLabels(Array.from(scratch.i32('labels')), sizes, scratch.f64('scores'));
}

/**
 * Cuts every candidate edge's distance matrix and picks the edge to split (spec §3.5). All matrices must
 * have the same order; the edge ids must be distinct non-negative integers.
 */
export function chooseSplitEdge(
  matrices: ReadonlyMap<number, DistanceMatrix> | readonly { edge: number; matrix: DistanceMatrix }[],
  groups: number | readonly number[],
  options: SplitEdgeOptions = {},
): SplitEdgeChoice {
  const criterion = options.criterion ?? 'max-cut';
  if (criterion !== 'max-cut' && criterion !== 'min-intra') {
    throw new Error(`chooseSplitEdge: criterion must be 'max-cut' or 'min-intra', got ${JSON.stringify(criterion)}`);
  }
  const candidates = (matrices instanceof Map
    ? [...matrices.entries()].map(([edge, matrix]) => ({ edge, matrix }))
    : [...(matrices as readonly { edge: number; matrix: DistanceMatrix }[])]);
  if (candidates.length === 0) throw new Error('chooseSplitEdge: no candidate edges given');
  const seen = new Set<number>();
  for (const { edge } of candidates) {
    if (!Number.isInteger(edge) || edge < 0) throw new Error(`chooseSplitEdge: edge id ${edge} is not a non-negative integer`);
    if (seen.has(edge)) throw new Error(`chooseSplitEdge: edge ${edge} is given twice`);
    seen.add(edge);
  }
  candidates.sort((a, b) => a.edge - b.edge);

  const n = matrixOrder(candidates[0].matrix, `distance of edge ${candidates[0].edge}`);
  for (const { edge, matrix } of candidates) {
    const order = matrixOrder(matrix, `distance of edge ${edge}`);
    if (order !== n) {
      throw new Error(`chooseSplitEdge: edge ${edge} has a ${order}×${order} distance matrix but edge ` +
        `${candidates[0].edge} has ${n}×${n}; all candidate edges must have the same ops`);
    }
  }
  const sizes = resolveGroupSizes(n, groups, 'groups');
  const edgeCount = candidates.length;
  const flats = candidates.map(({ edge, matrix }) =>
    flattenDistance(matrix, n, `distance of edge ${edge}`, options.symmetryTolerance));

  const wasm = gmnasWasm();
  const scratch = new ScratchArrays(wasm, {
    matrices: ['f64', edgeCount * n * n], sizes: ['i32', sizes.length],
    labels: ['i32', edgeCount * n], scores: ['f64', edgeCount * 2],
  });
  const matricesView = scratch.f64('matrices');
  flats.forEach((flat, e) => matricesView.set(flat, e * n * n));
  scratch.i32('sizes').set(sizes);
  const chosen = wasm.chooseSplitEdge(edgeCount, n, scratch.ptr('matrices'), sizes.length, scratch.ptr('sizes'),
    criterion === 'max-cut' ? 0 : 1, scratch.ptr('labels'), scratch.ptr('scores'));
  if (chosen < 0) throw new Error(`chooseSplitEdge: gmnas.wasm rejected the arguments (code ${chosen})`);

  const labels = scratch.i32('labels');
  const scores = scratch.f64('scores');
  const perEdge: EdgeCut[] = candidates.map(({ edge }, e) => ({
    edge,
    ...cutFromLabels(Array.from(labels.subarray(e * n, (e + 1) * n)), sizes, scores.subarray(2 * e, 2 * e + 2)),
  }));
  return { ...perEdge[chosen], criterion, perEdge };
}

/**
 * `chooseSplitEdge` over several allowed group-size tuples (GM's DARTS space: (2,5) or (3,4) for 7
 * ops, spec §5.1): per edge the cut of smallest intra-group distance over the tuples (the first tuple
 * on ties), then the edge by `criterion` (strict comparisons: the lowest edge id wins ties). With one
 * tuple this is `chooseSplitEdge` itself.
 */
export function chooseSplitEdgeOverSizes(
  matrices: readonly { edge: number; matrix: DistanceMatrix }[],
  sizeOptions: readonly (readonly number[])[],
  options: SplitEdgeOptions = {},
): SplitEdgeChoice {
  if (sizeOptions.length === 0) throw new Error('chooseSplitEdgeOverSizes: no group sizes given');
  if (sizeOptions.length === 1) return chooseSplitEdge(matrices, sizeOptions[0]!, options);
  const criterion = options.criterion ?? 'max-cut';
  const choices = sizeOptions.map((sizes) => chooseSplitEdge(matrices, sizes, options));
  const perEdge: EdgeCut[] = choices[0]!.perEdge.map((first, i) => {
    let best = first;
    for (const ch of choices.slice(1)) if (ch.perEdge[i]!.intraScore < best.intraScore) best = ch.perEdge[i]!;
    return best;
  });
  let chosen = perEdge[0]!;
  for (const e of perEdge) {
    if (criterion === 'max-cut' ? e.cutScore > chosen.cutScore : e.intraScore < chosen.intraScore) chosen = e;
  }
  return { ...chosen, criterion, perEdge };
}

/**
 * `chooseSplitEdge` for spaces whose decisions have different op counts (MobileNet: 6 or 7 ops per
 * block). Edges are cut with the group-size tuples `sizesFor(order)` allows for their matrix order
 * (`chooseSplitEdgeOverSizes`); edges of one order
 * are compared as `chooseSplitEdge` does, and the winners of different orders by the score per pair of
 * ops it sums (cut score over pairs in different groups, intra score over pairs in one group), so a
 * 7-op block is not favoured or penalised for having more pairs. With one order this is exactly
 * `chooseSplitEdge`. Ties go to the smaller edge id.
 */
export function chooseSplitEdgeRagged(
  matrices: readonly { edge: number; matrix: DistanceMatrix }[],
  sizesFor: (order: number) => readonly (readonly number[])[],
  options: SplitEdgeOptions = {},
): SplitEdgeChoice {
  const byOrder = new Map<number, { edge: number; matrix: DistanceMatrix }[]>();
  for (const m of matrices) {
    const n = matrixOrder(m.matrix, `distance of edge ${m.edge}`);
    byOrder.set(n, [...(byOrder.get(n) ?? []), m]);
  }
  if (byOrder.size <= 1) {
    const n = byOrder.size ? [...byOrder.keys()][0] : 0;
    return chooseSplitEdgeOverSizes(matrices, n ? sizesFor(n) : [[]], options);
  }
  const criterion = options.criterion ?? 'max-cut';
  const choices = [...byOrder.entries()].map(([n, ms]) => ({ n, choice: chooseSplitEdgeOverSizes(ms, sizesFor(n), options) }));
  const perPair = ({ n, choice }: { n: number; choice: SplitEdgeChoice }): number => {
    const intraPairs = choice.sizes.reduce((a, s) => a + (s * (s - 1)) / 2, 0);
    const crossPairs = (n * (n - 1)) / 2 - intraPairs;
    return criterion === 'max-cut' ? choice.cutScore / crossPairs : choice.intraScore / Math.max(1, intraPairs);
  };
  let best = choices[0];
  for (const c of choices.slice(1)) {
    const a = perPair(c), b = perPair(best);
    const better = criterion === 'max-cut' ? a > b : a < b;
    if (better || (a === b && c.choice.edge < best.choice.edge)) best = c;
  }
  const perEdge = choices.flatMap((c) => c.choice.perEdge).sort((a, b) => a.edge - b.edge);
  return { ...best.choice, perEdge };
}

// ---------------------------------------------------------------------------------------------------
// Validation and helpers

function checkInteger(value: number, name: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function matrixOrder(matrix: DistanceMatrix, name: string): number {
  if (matrix == null || typeof matrix !== 'object' || typeof matrix.length !== 'number') {
    throw new Error(`${name} must be a square matrix (array of rows), got ${typeof matrix}`);
  }
  const n = matrix.length;
  if (n < 2) throw new Error(`${name} must have at least 2 rows (ops), got ${n}`);
  if (n > MAX_CUT_OPS) throw new Error(`${name} has ${n} ops; the exact cut supports at most ${MAX_CUT_OPS}`);
  for (let i = 0; i < n; i++) {
    const row = matrix[i];
    if (row == null || typeof row !== 'object' || row.length !== n) {
      throw new Error(`${name} must be square: row ${i} has ${row?.length ?? 'no'} entries, expected ${n}`);
    }
  }
  return n;
}

function flattenDistance(matrix: DistanceMatrix, n: number, name: string, tolerance = DEFAULT_SYMMETRY_TOLERANCE): Float64Array {
  if (!(tolerance >= 0)) throw new Error(`symmetryTolerance must be ≥ 0, got ${tolerance}`);
  const flat = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const value = matrix[i][j];
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new Error(`${name}[${i}][${j}] must be a finite number, got ${value}`);
      }
      flat[i * n + j] = value;
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = flat[i * n + j];
      const b = flat[j * n + i];
      if (Math.abs(a - b) > tolerance * Math.max(1, Math.abs(a), Math.abs(b))) {
        throw new Error(`${name} is not symmetric: [${i}][${j}] = ${a} but [${j}][${i}] = ${b} ` +
          `(tolerance ${tolerance})`);
      }
    }
  }
  return flat;
}

function resolveGroupSizes(n: number, groups: number | readonly number[], name: string): number[] {
  let sizes: number[];
  if (typeof groups === 'number') {
    if (!Number.isInteger(groups) || groups < 2 || groups > n) {
      throw new Error(`${name} (branching factor) must be an integer in [2, ${n}] for ${n} ops, got ${groups}`);
    }
    sizes = balancedGroupSizes(n, groups);
  } else if (Array.isArray(groups)) {
    sizes = [...groups];
    if (sizes.length < 2 || sizes.length > n) {
      throw new Error(`${name} must list between 2 and ${n} group sizes, got ${sizes.length}`);
    }
    for (const size of sizes) {
      if (!Number.isInteger(size) || size < 1) {
        throw new Error(`${name} sizes must be positive integers, got [${sizes.join(', ')}]`);
      }
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new Error(`${name} sizes [${sizes.join(', ')}] sum to ${total}, but there are ${n} ops`);
  } else {
    throw new Error(`${name} must be a branching factor or an array of group sizes, got ${typeof groups}`);
  }
  const count = partitionCount(sizes);
  if (count > MAX_CUT_PARTITIONS) {
    throw new Error(`${name}: ${n} ops in groups [${sizes.join(', ')}] have ${count} partitions, more than ` +
      `the ${MAX_CUT_PARTITIONS} the exact cut enumerates`);
  }
  return sizes;
}

function cutFromLabels(labels: number[], sizes: number[], scores: ArrayLike<number>): BalancedCut {
  const groups: number[][] = sizes.map(() => []);
  labels.forEach((group, op) => groups[group].push(op));
  return { groups, sizes: [...sizes], labels, cutScore: scores[0], intraScore: scores[1] };
}

function binomial(n: number, k: number): number {
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

function factorial(m: number): number {
  let result = 1;
  for (let i = 2; i <= m; i++) result *= i;
  return result;
}
