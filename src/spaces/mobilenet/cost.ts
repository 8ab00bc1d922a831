// What deployers ask for, in closed form from the layer definitions: parameters (BN γ/β included, running
// statistics not, as PyTorch's parameters()) and multiply-adds of one sample at a resolution (convolutions
// Cout·OH·OW·(Cin/groups)·KH·KW and the classifier in·out; BN, activations, pooling and the shortcut
// additions not counted — the usual MAC convention, and the one the PyTorch golden's forward hooks use).
// Browser-safe.
import type { MobileGenotype } from './genotype.js';
import { assertGenotype } from './genotype.js';
import { macroLayout, checkSize, checkResolution, convOut, type MobileNetSize } from './layout.js';

export interface MobileNetCost { params: number; macs: number }

export function mobileNetCost(genotype: MobileGenotype, size: MobileNetSize, resolution: number): MobileNetCost {
  checkSize(size);
  checkResolution(resolution);
  assertGenotype(genotype);
  const L = macroLayout(size.widthMult);
  let params = 0, macs = 0;
  // a conv (no bias) followed by an affine BN, on an input of side `h`; returns the output side
  const convBn = (cin: number, cout: number, k: number, stride: number, h: number, depthwise: boolean): number => {
    const perOut = (depthwise ? 1 : cin) * k * k;
    const o = convOut(h, k, stride);
    params += cout * perOut + 2 * cout;
    macs += cout * o * o * perOut;
    return o;
  };
  const mbconv = (cin: number, cout: number, k: number, stride: number, expand: number, h: number): number => {
    const mid = Math.round(cin * expand);
    if (expand !== 1) h = convBn(cin, mid, 1, 1, h, false);
    h = convBn(mid, mid, k, stride, h, true);
    return convBn(mid, cout, 1, 1, h, false);
  };
  let h = convBn(size.inputChannels, L.firstConv, 3, 2, resolution, false);
  h = mbconv(L.firstConv, L.firstBlock, 3, 1, 1, h);
  for (const b of L.blocks) {
    const op = genotype[b.index];
    if (op.kind === 'mbconv') h = mbconv(b.cin, b.cout, op.kernel, b.stride, op.expand, h);
  }
  h = convBn(L.blocks[L.blocks.length - 1].cout, L.featureMix, 1, 1, h, false);
  params += L.featureMix * size.numClasses + size.numClasses;
  macs += L.featureMix * size.numClasses;
  return { params, macs };
}
