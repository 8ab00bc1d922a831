// Op-mask and sample helpers for any space whose α is a [rows, cols] grid (src/spaces/space.ts), for
// spaces to build their SearchSpace from. A mask's text form is one group of 0/1 digits per row,
// groups separated by '/', rows of fewer ops written with their own length (ragged spaces).
// Browser-safe.
import { Tensor, add, mul } from '../engine/index.js';
import type { ArchSample, Decision, Genotype, OpMask } from './space.js';

export interface Grid {
  readonly name: string;
  readonly decisions: readonly Decision[];
  readonly rows: number;
  readonly cols: number;
}

export function fullGridMask(g: Grid): OpMask {
  const m = new Uint8Array(g.rows * g.cols);
  g.decisions.forEach((d, r) => m.fill(1, r * g.cols, r * g.cols + d.ops.length));
  return m;
}

export function assertGridMask(g: Grid, mask: OpMask, what = 'op mask'): void {
  if (!(mask instanceof Uint8Array) || mask.length !== g.rows * g.cols) {
    throw new Error(`${what} must be a Uint8Array of ${g.rows}×${g.cols} = ${g.rows * g.cols} entries (${g.name}), got ${mask instanceof Uint8Array ? `length ${mask.length}` : typeof mask}`);
  }
  g.decisions.forEach((d, r) => {
    let on = 0;
    for (let o = 0; o < g.cols; o++) {
      const v = mask[r * g.cols + o]!;
      if (v !== 0 && v !== 1) throw new Error(`${what}: entry (edge ${d.key}, op ${o}) is ${v}, expected 0 or 1`);
      if (v === 1 && o >= d.ops.length) throw new Error(`${what}: edge ${d.key} enables column ${o}, but it has only ${d.ops.length} ops`);
      on += v;
    }
    if (on === 0) throw new Error(`${what}: edge ${d.key} enables no op`);
  });
}

export function gridEnabledOps(g: Grid, mask: OpMask, row: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < g.cols; o++) if (mask[row * g.cols + o] === 1) out.push(o);
  return out;
}

export function restrictGridMask(g: Grid, mask: OpMask, row: number, ops: readonly number[]): OpMask {
  assertGridMask(g, mask);
  if (!Number.isInteger(row) || row < 0 || row >= g.rows) throw new Error(`restrictMask: edge index ${row} is not in 0..${g.rows - 1}`);
  for (const o of ops) if (!Number.isInteger(o) || o < 0 || o >= g.decisions[row]!.ops.length) throw new Error(`restrictMask: op index ${o} is not an op of edge ${g.decisions[row]!.key}`);
  const out = mask.slice();
  for (let o = 0; o < g.cols; o++) if (!ops.includes(o)) out[row * g.cols + o] = 0;
  if (gridEnabledOps(g, out, row).length === 0) throw new Error(`restrictMask: keeping ops [${ops.join(', ')}] on edge ${g.decisions[row]!.key} leaves it no op`);
  return out;
}

/** Product over rows of the enabled-op counts (a float for huge spaces). */
export function countGridAdmitted(g: Grid, mask: OpMask): number {
  let n = 1;
  for (let r = 0; r < g.rows; r++) n *= gridEnabledOps(g, mask, r).length;
  return n;
}

export function unsplitGridRows(g: Grid, mask: OpMask): number[] {
  const out: number[] = [];
  for (let r = 0; r < g.rows; r++) if (gridEnabledOps(g, mask, r).length === g.decisions[r]!.ops.length) out.push(r);
  return out;
}

export function gridMaskToString(g: Grid, mask: OpMask): string {
  return g.decisions.map((d, r) => Array.from(mask.subarray(r * g.cols, r * g.cols + d.ops.length)).join('')).join('/');
}

export function parseGridMask(g: Grid, text: string): OpMask {
  const groups = String(text).split('/');
  if (groups.length !== g.rows) throw new Error(`op mask '${text}': expected ${g.rows} '/'-separated groups (one per ${g.name} edge), found ${groups.length}`);
  const mask = new Uint8Array(g.rows * g.cols);
  groups.forEach((grp, r) => {
    const n = g.decisions[r]!.ops.length;
    if (!new RegExp(`^[01]{${n}}$`).test(grp)) throw new Error(`op mask '${text}': group ${r + 1} ('${grp}', edge ${g.decisions[r]!.key}) must be exactly ${n} digits 0/1`);
    for (let o = 0; o < n; o++) mask[r * g.cols + o] = grp.charCodeAt(o) - 48;
  });
  assertGridMask(g, mask, `op mask '${text}'`);
  return mask;
}

/** Every enabled op of every row, weighted by `weights` [rows, cols]. */
export function gridMixedSample(g: Grid, mask: OpMask, weights: Tensor): ArchSample {
  return { ops: Array.from({ length: g.rows }, (_, r) => gridEnabledOps(g, mask, r)), weights };
}

/** `sample` with `row` running only `op`: at weight 1 (`keepWeight` false) or at the sample's weight. */
export function gridReplaceOp(g: Grid, sample: ArchSample, row: number, op: number, keepWeight: boolean): ArchSample {
  if (!Number.isInteger(row) || row < 0 || row >= g.rows) throw new Error(`replaceDecisionOp: edge ${row} must be in 0..${g.rows - 1}`);
  if (!Number.isInteger(op) || op < 0 || op >= g.cols) throw new Error(`replaceDecisionOp: op ${op} must be in 0..${g.cols - 1}`);
  const ops = sample.ops.map((o, r) => (r === row ? [op] : o));
  const weightOnly = sample.weightOnly?.map((o, r) => (r === row ? [] : o));
  const extra = weightOnly ? { weightOnly } : {};
  if (!sample.weights || keepWeight) return { ops, weights: sample.weights, ...extra };
  const be = sample.weights.backend;
  const keep = new Float32Array(g.rows * g.cols).fill(1);
  const onehot = new Float32Array(g.rows * g.cols);
  for (let o = 0; o < g.cols; o++) keep[row * g.cols + o] = 0;
  onehot[row * g.cols + op] = 1;
  const shape = sample.weights.shape;
  return { ops, weights: add(mul(sample.weights, Tensor.fromArray(be, keep, shape)), Tensor.fromArray(be, onehot, shape)), ...extra };
}

/** A single path: one op per row (value % cols, so spaces may encode more in a value), unit weights;
 *  rows at −1 run nothing. */
export function gridSinglePath(g: Grid, genotype: Genotype): ArchSample {
  if (!Array.isArray(genotype) || genotype.length !== g.rows) throw new Error(`${g.name} genotype must have ${g.rows} entries, got ${Array.isArray(genotype) ? genotype.length : typeof genotype}`);
  return { ops: genotype.map((v) => (v < 0 ? [] : [v % g.cols])), weights: null };
}
