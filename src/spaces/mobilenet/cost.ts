// What deployers ask for, in closed form from the layer definitions: parameters (BN γ/β included, running
// statistics not, as PyTorch's parameters()) and multiply-adds of one sample at a resolution (convolutions
// Cout·OH·OW·(Cin/groups)·KH·KW and the classifier in·out; BN, activations, pooling and the shortcut
// additions not counted — the usual MAC convention, and the one the PyTorch golden's forward hooks use).
// Browser-safe.
import type { MobileGenotype } from './genotype.js';
import { assertGenotype } from './genotype.js';
import { macroLayout, checkSize, checkResolution, convOut, type MobileNetSize } from './layout.js';
import { parseOp } from './ops.js';

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

/** Multiply-adds split by block (the same convention as mobileNetCost): `fixed` for the first conv, the
 *  fixed first block, the feature mix and the classifier; `ops[i][j]` for op MOBILE_OPS[j] on searchable
 *  block i (0 for `zero`, NaN where the block cannot take the op). A block's side depends only on the
 *  strides before it (`zero` sits only on stride-1 blocks), so any genotype costs fixed + Σ ops[i][g_i]
 *  — the additivity ProxylessNAS's expected FLOPs (a softmax-weighted sum per block) relies on. */
export function mobileNetOpMacs(size: MobileNetSize, resolution: number, ops: readonly string[]): { fixed: number; ops: number[][] } {
  checkSize(size);
  checkResolution(resolution);
  const L = macroLayout(size.widthMult);
  const convMacs = (cin: number, cout: number, k: number, stride: number, h: number, depthwise: boolean): [number, number] => {
    const o = convOut(h, k, stride);
    return [cout * o * o * (depthwise ? 1 : cin) * k * k, o];
  };
  const mbconv = (cin: number, cout: number, k: number, stride: number, expand: number, h: number): [number, number] => {
    const mid = Math.round(cin * expand);
    let macs = 0, m: number;
    if (expand !== 1) { [m, h] = convMacs(cin, mid, 1, 1, h, false); macs += m; }
    [m, h] = convMacs(mid, mid, k, stride, h, true); macs += m;
    [m, h] = convMacs(mid, cout, 1, 1, h, false);
    return [macs + m, h];
  };
  let fixed = 0, m: number;
  let h: number;
  [m, h] = convMacs(size.inputChannels, L.firstConv, 3, 2, resolution, false); fixed += m;
  [m, h] = mbconv(L.firstConv, L.firstBlock, 3, 1, 1, h); fixed += m;
  const perOp: number[][] = [];
  for (const b of L.blocks) {
    let next = h;
    perOp.push(ops.map((name) => {
      const op = parseOp(name);
      if (op.kind === 'zero') return b.identity ? 0 : NaN;
      const [macs, o] = mbconv(b.cin, b.cout, op.kernel, b.stride, op.expand, h);
      next = o;
      return macs;
    }));
    h = next;
  }
  [m] = convMacs(L.blocks[L.blocks.length - 1].cout, L.featureMix, 1, 1, h, false); fixed += m;
  fixed += L.featureMix * size.numClasses;
  return { fixed, ops: perOp };
}
