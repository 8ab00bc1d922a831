// NAS-Bench-201 cell vocabulary: the five candidate operations, the six edges of the 4-node cell, and
// op masks (which ops each edge may still use — the node of a (sub-)supernet in the partition tree).
//
// Orders here are the reference orders and everything else indexes by them:
//   - op index = column of the 6×5 architecture matrix α (spec §1.2,
//     `GM:WS-GM/nasbench201/cell_operations.py:22`);
//   - edge index (eid) = position of "i<-j" in the sorted key list (spec §1.1,
//     `GM:WS-GM/nasbench201/search_cells.py:10`), which is also the token order of a genotype string.
// Browser-safe: no node: imports.

export const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type Nb201OpName = (typeof NB201_OPS)[number];

export const NUM_OPS = 5;
export const NUM_EDGES = 6;
/** Nodes of a cell: 0 is the input, 3 is the output (no concatenation), 1 and 2 are intermediate. */
export const NUM_NODES = 4;

/** Op indices by name, for code that needs one op (connectivity, parameter-free checks, …). */
export const OP_NONE = 0;
export const OP_SKIP = 1;
export const OP_CONV_1X1 = 2;
export const OP_CONV_3X3 = 3;
export const OP_AVG_POOL = 4;

export interface Nb201Edge {
  /** Edge index 0..5 (α row). */
  readonly eid: number;
  /** Node the edge feeds (1..3). */
  readonly to: number;
  /** Node the edge reads (0..to-1). */
  readonly from: number;
  /** The reference's key for this edge, e.g. "3<-1". */
  readonly key: string;
}

function edge(eid: number, to: number, from: number): Nb201Edge {
  return Object.freeze({ eid, to, from, key: `${to}<-${from}` });
}

/** eid → edge: 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2. */
export const NB201_EDGES: readonly Nb201Edge[] = Object.freeze([
  edge(0, 1, 0), edge(1, 2, 0), edge(2, 2, 1), edge(3, 3, 0), edge(4, 3, 1), edge(5, 3, 2),
]);

/** The eid of edge `to<-from`; throws for a pair that is not an edge of the cell. */
export function edgeIndex(to: number, from: number): number {
  const e = NB201_EDGES.find((x) => x.to === to && x.from === from);
  if (!e) throw new Error(`NB201 has no edge ${to}<-${from} (edges are ${NB201_EDGES.map((x) => x.key).join(', ')})`);
  return e.eid;
}

/** Index of an op name; throws naming the valid names. */
export function opIndex(name: string): number {
  const i = (NB201_OPS as readonly string[]).indexOf(name);
  if (i < 0) throw new Error(`unknown NB201 op '${name}' (valid ops: ${NB201_OPS.join(', ')})`);
  return i;
}

// ---------------------------------------------------------------------------------------------------
// Op masks

/**
 * A 6×5 op mask, row-major: `mask[eid * NUM_OPS + op]` is 1 when `op` is enabled on edge `eid`, else 0.
 * It is the reference's `enc` matrix (`GM:WS-GM/nasbench201/search_model_ws.py:20-24`). Functions
 * here never mutate a mask they are given; they return new ones. A valid mask enables at least one op
 * on every edge. JSON form: `maskToString` ("11111/11111/…", edges in eid order, ops in op order).
 */
export type OpMask = Uint8Array;

/** Throws unless `mask` is a well-formed op mask; `what` names it in the message. */
export function assertOpMask(mask: OpMask, what = 'op mask'): void {
  if (!(mask instanceof Uint8Array) || mask.length !== NUM_EDGES * NUM_OPS) {
    const got = mask instanceof Uint8Array ? `a Uint8Array of length ${mask.length}` : typeof mask;
    throw new Error(`${what} must be a Uint8Array of ${NUM_EDGES}×${NUM_OPS} = ${NUM_EDGES * NUM_OPS} entries, got ${got}`);
  }
  for (let e = 0; e < NUM_EDGES; e++) {
    let enabled = 0;
    for (let o = 0; o < NUM_OPS; o++) {
      const v = mask[e * NUM_OPS + o]!;
      if (v !== 0 && v !== 1) throw new Error(`${what}: entry (edge ${e}, op ${o}) is ${v}, expected 0 or 1`);
      enabled += v;
    }
    if (enabled === 0) throw new Error(`${what}: edge ${e} (${NB201_EDGES[e]!.key}) enables no op`);
  }
}

/** The mask of the whole space: every op on every edge. */
export function fullMask(): OpMask {
  return new Uint8Array(NUM_EDGES * NUM_OPS).fill(1);
}

export function isOpEnabled(mask: OpMask, eid: number, op: number): boolean {
  return mask[eid * NUM_OPS + op] === 1;
}

/** Op indices enabled on edge `eid`, ascending. */
export function enabledOps(mask: OpMask, eid: number): number[] {
  const out: number[] = [];
  for (let o = 0; o < NUM_OPS; o++) if (mask[eid * NUM_OPS + o] === 1) out.push(o);
  return out;
}

/**
 * A copy of `mask` whose edge `eid` keeps only the ops in `opIndices` that it already enabled — one
 * child of a split of that edge. Throws when the result would leave the edge without an op.
 */
export function restrictMask(mask: OpMask, eid: number, opIndices: readonly number[]): OpMask {
  assertOpMask(mask);
  if (!Number.isInteger(eid) || eid < 0 || eid >= NUM_EDGES) throw new Error(`restrictMask: edge index ${eid} is not in 0..${NUM_EDGES - 1}`);
  for (const o of opIndices) {
    if (!Number.isInteger(o) || o < 0 || o >= NUM_OPS) throw new Error(`restrictMask: op index ${o} is not in 0..${NUM_OPS - 1}`);
  }
  const out = mask.slice();
  for (let o = 0; o < NUM_OPS; o++) {
    if (!opIndices.includes(o)) out[eid * NUM_OPS + o] = 0;
  }
  if (enabledOps(out, eid).length === 0) {
    throw new Error(`restrictMask: keeping ops [${opIndices.join(', ')}] on edge ${eid} leaves it no op ` +
      `(it enables [${enabledOps(mask, eid).join(', ')}])`);
  }
  return out;
}

/** Number of enabled (edge, op) entries. */
export function countEnabled(mask: OpMask): number {
  let n = 0;
  for (const v of mask) n += v;
  return n;
}

/** Number of genotypes the mask admits: the product over edges of the enabled-op counts. */
export function countAdmitted(mask: OpMask): number {
  let n = 1;
  for (let e = 0; e < NUM_EDGES; e++) n *= enabledOps(mask, e).length;
  return n;
}

/** Edges that still enable all five ops (the reference's `get_unsplitted_eids`). */
export function unsplitEdges(mask: OpMask): number[] {
  const out: number[] = [];
  for (let e = 0; e < NUM_EDGES; e++) if (enabledOps(mask, e).length === NUM_OPS) out.push(e);
  return out;
}

/** Whether every edge's op of `genotype` (op index per edge) is enabled in `mask`. */
export function maskAdmits(mask: OpMask, genotype: readonly number[]): boolean {
  if (genotype.length !== NUM_EDGES) throw new Error(`maskAdmits: genotype has ${genotype.length} edges, expected ${NUM_EDGES}`);
  for (let e = 0; e < NUM_EDGES; e++) {
    if (mask[e * NUM_OPS + genotype[e]!] !== 1) return false;
  }
  return true;
}

export function masksEqual(a: OpMask, b: OpMask): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** "11111/11111/11111/11111/11111/11111": one group per edge in eid order, one digit per op. */
export function maskToString(mask: OpMask): string {
  const groups: string[] = [];
  for (let e = 0; e < NUM_EDGES; e++) groups.push(Array.from(mask.subarray(e * NUM_OPS, (e + 1) * NUM_OPS)).join(''));
  return groups.join('/');
}

/** Inverse of `maskToString`; rejects anything else with a message saying what is wrong. */
export function parseMask(text: string): OpMask {
  const groups = text.split('/');
  if (groups.length !== NUM_EDGES) {
    throw new Error(`op mask '${text}': expected ${NUM_EDGES} '/'-separated groups (one per edge), found ${groups.length}`);
  }
  const mask = new Uint8Array(NUM_EDGES * NUM_OPS);
  groups.forEach((g, e) => {
    if (!/^[01]{5}$/.test(g)) {
      throw new Error(`op mask '${text}': group ${e + 1} ('${g}', edge ${NB201_EDGES[e]!.key}) must be exactly ${NUM_OPS} digits 0/1`);
    }
    for (let o = 0; o < NUM_OPS; o++) mask[e * NUM_OPS + o] = g.charCodeAt(o) - 48;
  });
  assertOpMask(mask, `op mask '${text}'`);
  return mask;
}

/** The mask as 6 rows of 5 booleans (the reference's `enc` as nested lists). */
export function maskToRows(mask: OpMask): boolean[][] {
  const rows: boolean[][] = [];
  for (let e = 0; e < NUM_EDGES; e++) rows.push(Array.from({ length: NUM_OPS }, (_, o) => mask[e * NUM_OPS + o] === 1));
  return rows;
}

export function maskFromRows(rows: readonly (readonly boolean[])[]): OpMask {
  if (rows.length !== NUM_EDGES || rows.some((r) => r.length !== NUM_OPS)) {
    throw new Error(`maskFromRows: expected ${NUM_EDGES} rows of ${NUM_OPS} booleans, got [${rows.map((r) => r.length).join(', ')}]`);
  }
  const mask = new Uint8Array(NUM_EDGES * NUM_OPS);
  rows.forEach((r, e) => r.forEach((b, o) => { mask[e * NUM_OPS + o] = b ? 1 : 0; }));
  assertOpMask(mask, 'maskFromRows');
  return mask;
}
