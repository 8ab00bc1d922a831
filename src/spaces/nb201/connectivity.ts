// The RSPS connectivity rule and the single-path sampler that enforces it.
//
// What the reference does (`GM:WS-GM/nasbench201/search_model_ws.py:34-51`, spec §2.4): RSPS draws, for
// each edge in eid order, one op uniformly from the ops the supernet's mask enables
// (`np.random.choice`), and redraws the whole cell while `check_connect` rejects it. `check_connect`
// accepts a cell iff at least one of these input→output paths uses no 'none' op:
//     e3 (3<-0);  e1→e5 (2<-0, 3<-2);  e0→e4 (1<-0, 3<-1);  e0→e2→e5 (1<-0, 2<-1, 3<-2)
// These are all four paths from node 0 to node 3 of the DAG, so the rule is exactly "the output node is
// reachable from the input node through non-'none' edges". It says nothing about dead branches (e.g. a
// node whose output is used but whose own inputs are all 'none' still counts when another path works),
// and skip/pool count as connections. Rejection sampling of a uniform product draw is uniform over the
// connected cells the mask admits. (The reference returns True early for a search space without 'none';
// the rule gives the same answer there because no cell contains 'none'.)
// Browser-safe: no node: imports.

import { NUM_EDGES, OP_NONE, OP_SKIP, OP_AVG_POOL, NB201_EDGES, assertOpMask, enabledOps, fullMask, maskAdmits, maskToString, type OpMask } from './ops.js';
import { assertGenotype, NUM_GENOTYPES, genotypeFromCode, type Genotype } from './genotype.js';

/** Every path from node 0 to node 3, as eid lists — the four cases `check_connect` tests. */
export const INPUT_OUTPUT_PATHS: readonly (readonly number[])[] = Object.freeze([
  Object.freeze([3]), Object.freeze([1, 5]), Object.freeze([0, 4]), Object.freeze([0, 2, 5]),
]);

/** Whether the cell's output is reachable from its input through non-'none' ops (RSPS's rule). */
export function isConnected(g: Genotype): boolean {
  assertGenotype(g);
  return INPUT_OUTPUT_PATHS.some((path) => path.every((eid) => g[eid] !== OP_NONE));
}

/** Whether `mask` admits at least one connected cell: some path whose every edge enables a non-'none' op. */
export function maskAdmitsConnected(mask: OpMask): boolean {
  assertOpMask(mask);
  return INPUT_OUTPUT_PATHS.some((path) => path.every((eid) => enabledOps(mask, eid).some((o) => o !== OP_NONE)));
}

/** The connected cells `mask` admits, in `genotypeCode` order (at most 15,625; cheap to enumerate). */
export function connectedGenotypes(mask: OpMask = fullMask()): Genotype[] {
  assertOpMask(mask);
  const out: Genotype[] = [];
  for (let code = 0; code < NUM_GENOTYPES; code++) {
    const g = genotypeFromCode(code);
    if (maskAdmits(mask, g) && isConnected(g)) out.push(g);
  }
  return out;
}

/** Uniform numbers in [0, 1): a generator with `next()` (src/data/rng.ts's Rng) or a function (Math.random). */
export type UniformSource = { next(): number } | (() => number);

/**
 * Rejection cap for `sampleConnected`. When the mask admits any connected cell, one draw is accepted
 * with probability ≥ 1/8 (the worst case is a 3-edge path whose edges each enable 'none' and one other
 * op), so 1000 consecutive rejections (probability ≤ (7/8)^1000 ≈ 1e-58) means the source is broken.
 */
const MAX_SAMPLE_TRIES = 1000;

/**
 * One cell drawn uniformly from the connected cells `mask` admits, the way RSPS draws its single path:
 * per edge (eid order) a uniform pick among enabled ops, redrawn while disconnected. Throws when the
 * mask admits no connected cell, naming the mask.
 */
export function sampleConnected(rng: UniformSource, mask: OpMask = fullMask()): Genotype {
  const uniform = typeof rng === 'function' ? rng
    : rng !== null && typeof rng === 'object' && typeof rng.next === 'function' ? () => rng.next()
    : undefined;
  if (!uniform) throw new Error(`sampleConnected: rng must have next() or be a function returning uniform numbers in [0, 1), got ${typeof rng}`);
  assertOpMask(mask);
  if (!maskAdmitsConnected(mask)) {
    throw new Error(`sampleConnected: op mask ${maskToString(mask)} admits no connected cell: every path from node 0 to node 3 ` +
      `(${INPUT_OUTPUT_PATHS.map((p) => p.map((e) => NB201_EDGES[e]!.key).join('→')).join('; ')}) has an edge that enables only 'none'`);
  }
  const choices = Array.from({ length: NUM_EDGES }, (_, e) => enabledOps(mask, e));
  for (let attempt = 0; attempt < MAX_SAMPLE_TRIES; attempt++) {
    const g = choices.map((ops) => {
      const u = uniform();
      if (!(u >= 0 && u < 1)) throw new Error(`sampleConnected: rng returned ${u}, expected a number in [0, 1)`);
      return ops[Math.floor(u * ops.length)]!;
    });
    if (isConnected(g)) return g;
  }
  throw new Error(`sampleConnected: ${MAX_SAMPLE_TRIES} draws in a row were disconnected under mask ${maskToString(mask)}, ` +
    'which a uniform source makes practically impossible: check the rng');
}

/** Whether the cell has no parameters: only 'none', 'skip_connect' and 'avg_pool_3x3' ops. */
export function isParameterFree(g: Genotype): boolean {
  assertGenotype(g);
  return g.every((o) => o === OP_NONE || o === OP_SKIP || o === OP_AVG_POOL);
}

