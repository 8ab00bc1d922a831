// Parameter counts of the NB201 networks, in closed form from the layer definitions (spec §1.3), and
// of any built module. The closed forms let the CLI print a model's size before building it; the tests
// check both against each other and against the spec's numbers (1,686,106 / 1,531,546 / 1,288,506 /
// 73,306 at C=16, N=5, 3 input channels, 10 classes). Buffers (BN running statistics) do not count.
import type { Module } from '../../engine/index.js';
import { OP_CONV_1X1, OP_CONV_3X3 } from './ops.js';
import { assertGenotype, type Genotype } from './genotype.js';
import { macroLayout, checkMacroConfig } from './cells.js';

export interface MacroSize { C: number; N: number; inputChannels: number; numClasses: number }

export { countParameters } from '../../engine/index.js';

/** Stem + reduction blocks + head: everything but the search / infer cells. */
function skeletonCount(s: MacroSize): number {
  const { C, N, inputChannels, numClasses } = s;
  let total = inputChannels * C * 9 + 2 * C; // stem conv + affine BN
  let prev = C;
  for (const { channels: c, reduction } of macroLayout(C, N)) {
    if (reduction) total += 9 * prev * c + 2 * c + 9 * c * c + 2 * c + prev * c; // conv_a, conv_b, 1×1 shortcut
    prev = c;
  }
  return total + 2 * prev + prev * numClasses + numClasses; // lastact BN, classifier
}

/** The search supernet: all five ops on each of 6 edges, non-affine (parameter-free) cell BN. */
export function supernetParamCount(s: MacroSize): number {
  checkMacroConfig('supernetParamCount', s);
  let total = skeletonCount(s);
  for (const { channels: c, reduction } of macroLayout(s.C, s.N)) {
    if (!reduction) total += 6 * (c * c + 9 * c * c);
  }
  return total;
}

/** The stand-alone network of `genotype`: conv ops with affine BN, parameter-free ops cost nothing. */
export function networkParamCount(genotype: Genotype, s: MacroSize): number {
  assertGenotype(genotype);
  checkMacroConfig('networkParamCount', s);
  let total = skeletonCount(s);
  for (const { channels: c, reduction } of macroLayout(s.C, s.N)) {
    if (reduction) continue;
    for (const op of genotype) {
      if (op === OP_CONV_1X1) total += c * c + 2 * c;
      else if (op === OP_CONV_3X3) total += 9 * c * c + 2 * c;
    }
  }
  return total;
}
