// MobileNet genotypes: one op name per searchable block, 21 in block order.
//
// Text form: the 21 names separated by commas or newlines (whitespace around them ignored, so one name
// per line works too), e.g.
//   3x3_MBConv3,5x5_MBConv6,zero,7x7_MBConv3, … (21 names)
// Names: 3x3_MBConv3 3x3_MBConv6 5x5_MBConv3 5x5_MBConv6 7x7_MBConv3 7x7_MBConv6 zero (ProxylessNAS's
// op names; `zero` = skip the block, allowed only where the block has an identity shortcut: not on the
// first block of stages 1, 2, 3, 4, 5 nor on the single block of stage 6). formatGenotype writes the
// comma form with no spaces; parse(format(g)) = g. Browser-safe.
import { parseOp, opName, MOBILE_OPS, type MobileOp } from './ops.js';
import { macroLayout, NUM_SEARCHABLE_BLOCKS } from './layout.js';

export type MobileGenotype = readonly MobileOp[];

/** Which searchable blocks may be `zero` (identity shortcut); the same at every width. */
export const ZERO_ALLOWED: readonly boolean[] = macroLayout(1).blocks.map((b) => b.identity);

/** Throws unless g has 21 ops and `zero` only where allowed. */
export function assertGenotype(g: MobileGenotype, what = 'genotype'): void {
  if (!Array.isArray(g) || g.length !== NUM_SEARCHABLE_BLOCKS) {
    throw new Error(`${what} must have ${NUM_SEARCHABLE_BLOCKS} ops (one per searchable block), got ${Array.isArray(g) ? g.length : typeof g}`);
  }
  g.forEach((op, i) => {
    if (op.kind === 'zero' && !ZERO_ALLOWED[i]) {
      throw new Error(`${what}: block ${i} is 'zero' but has no identity shortcut (it changes stride or width); use one of ${MOBILE_OPS.slice(0, 6).join(', ')}`);
    }
  });
}

export function parseGenotype(text: string): MobileGenotype {
  const trimmed = text.trim();
  if (trimmed === '') throw new Error(`empty MobileNet genotype; expected ${NUM_SEARCHABLE_BLOCKS} comma-separated op names`);
  const names = trimmed.split(/\s*[,\n]\s*/);
  if (names.length !== NUM_SEARCHABLE_BLOCKS) {
    throw new Error(`MobileNet genotype has ${names.length} op names; expected ${NUM_SEARCHABLE_BLOCKS} (one per searchable block, comma-separated)`);
  }
  const g = names.map((n, i) => {
    try {
      return parseOp(n);
    } catch (e) {
      throw new Error(`MobileNet genotype block ${i}: ${(e as Error).message}`);
    }
  });
  assertGenotype(g, 'MobileNet genotype');
  return g;
}

export function formatGenotype(g: MobileGenotype): string {
  assertGenotype(g);
  return g.map(opName).join(',');
}
