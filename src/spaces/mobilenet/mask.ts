// Op masks of the MobileNet space (the SearchSpace's row-major [21, 7] layout): row d is searchable
// block d, column j the op MOBILE_OPS[j]. Blocks without an identity shortcut have six ops; their
// `zero` column is padding and is never enabled, so masks are ragged inside a rectangular array.
// Text form: one group per block joined by '/', one digit per op the block has (7 or 6 digits), e.g.
// the full mask '111111/1111111/…'. Functions never mutate a mask they are given. Browser-safe.
import { MOBILE_OPS } from './ops.js';
import { macroLayout, NUM_SEARCHABLE_BLOCKS } from './layout.js';
import { blockChoices } from './supernet.js';

export type OpMask = Uint8Array;

export const MASK_ROWS = NUM_SEARCHABLE_BLOCKS;
export const MASK_COLS = MOBILE_OPS.length;

/** Op columns each block has (the same at every width: shortcuts do not depend on it). */
export const BLOCK_OPS: readonly (readonly number[])[] = Object.freeze(macroLayout(1).blocks.map((b) => Object.freeze(blockChoices(b))));

function checkBlock(what: string, d: number): void {
  if (!Number.isInteger(d) || d < 0 || d >= MASK_ROWS) throw new Error(`${what}: block ${d} is not in 0..${MASK_ROWS - 1}`);
}

export function assertMobileMask(mask: OpMask, what = 'MobileNet op mask'): void {
  if (!(mask instanceof Uint8Array) || mask.length !== MASK_ROWS * MASK_COLS) {
    const got = mask instanceof Uint8Array ? `a Uint8Array of length ${mask.length}` : typeof mask;
    throw new Error(`${what} must be a Uint8Array of ${MASK_ROWS}×${MASK_COLS} = ${MASK_ROWS * MASK_COLS} entries, got ${got}`);
  }
  for (let d = 0; d < MASK_ROWS; d++) {
    let enabled = 0;
    for (let j = 0; j < MASK_COLS; j++) {
      const v = mask[d * MASK_COLS + j];
      if (v !== 0 && v !== 1) throw new Error(`${what}: entry (block ${d}, op ${j}) is ${v}, expected 0 or 1`);
      if (v === 1 && !BLOCK_OPS[d].includes(j)) throw new Error(`${what}: block ${d} enables ${MOBILE_OPS[j]}, which it does not have (no identity shortcut)`);
      enabled += v;
    }
    if (enabled === 0) throw new Error(`${what}: block ${d} enables no op`);
  }
}

export function fullMobileMask(): OpMask {
  const m = new Uint8Array(MASK_ROWS * MASK_COLS);
  BLOCK_OPS.forEach((ops, d) => { for (const j of ops) m[d * MASK_COLS + j] = 1; });
  return m;
}

export function enabledMobileOps(mask: OpMask, d: number): number[] {
  checkBlock('enabledOps', d);
  const out: number[] = [];
  for (let j = 0; j < MASK_COLS; j++) if (mask[d * MASK_COLS + j] === 1) out.push(j);
  return out;
}

/** A copy of `mask` whose block `d` keeps only `ops` among those it enabled (one child of a split). */
export function restrictMobileMask(mask: OpMask, d: number, ops: readonly number[]): OpMask {
  assertMobileMask(mask);
  checkBlock('restrictMask', d);
  for (const j of ops) if (!Number.isInteger(j) || j < 0 || j >= MASK_COLS) throw new Error(`restrictMask: op index ${j} is not in 0..${MASK_COLS - 1}`);
  const out = mask.slice();
  for (let j = 0; j < MASK_COLS; j++) if (!ops.includes(j)) out[d * MASK_COLS + j] = 0;
  if (enabledMobileOps(out, d).length === 0) {
    throw new Error(`restrictMask: keeping ops [${ops.join(', ')}] on block ${d} leaves it no op (it enables [${enabledMobileOps(mask, d).join(', ')}])`);
  }
  return out;
}

/** Architectures the mask admits: Π over blocks of the enabled-op counts (a float above 2^53). */
export function countMobileAdmitted(mask: OpMask): number {
  let n = 1;
  for (let d = 0; d < MASK_ROWS; d++) n *= enabledMobileOps(mask, d).length;
  return n;
}

/** Blocks that still enable every op they have. */
export function unsplitBlocks(mask: OpMask): number[] {
  const out: number[] = [];
  for (let d = 0; d < MASK_ROWS; d++) if (enabledMobileOps(mask, d).length === BLOCK_OPS[d].length) out.push(d);
  return out;
}

export function mobileMaskAdmits(mask: OpMask, g: readonly number[]): boolean {
  if (g.length !== MASK_ROWS) throw new Error(`maskAdmits: genotype has ${g.length} blocks, expected ${MASK_ROWS}`);
  return g.every((j, d) => j >= 0 && j < MASK_COLS && mask[d * MASK_COLS + j] === 1);
}

export function mobileMaskToString(mask: OpMask): string {
  return BLOCK_OPS.map((ops, d) => ops.map((j) => mask[d * MASK_COLS + j]).join('')).join('/');
}

export function parseMobileMask(text: string): OpMask {
  const groups = text.split('/');
  if (groups.length !== MASK_ROWS) {
    throw new Error(`MobileNet op mask '${text}': expected ${MASK_ROWS} '/'-separated groups (one per searchable block), found ${groups.length}`);
  }
  const mask = new Uint8Array(MASK_ROWS * MASK_COLS);
  groups.forEach((g, d) => {
    const ops = BLOCK_OPS[d];
    if (!new RegExp(`^[01]{${ops.length}}$`).test(g)) {
      throw new Error(`MobileNet op mask '${text}': group ${d + 1} ('${g}', block ${d}) must be exactly ${ops.length} digits 0/1`);
    }
    ops.forEach((j, k) => { mask[d * MASK_COLS + j] = g.charCodeAt(k) - 48; });
  });
  assertMobileMask(mask, `MobileNet op mask '${text}'`);
  return mask;
}

/** The mask as ragged boolean rows over each block's own ops: ProxylessSearch's `mask` argument. */
export function mobileMaskRows(mask: OpMask): boolean[][] {
  assertMobileMask(mask);
  return BLOCK_OPS.map((ops, d) => ops.map((j) => mask[d * MASK_COLS + j] === 1));
}
