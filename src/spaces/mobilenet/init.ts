// Weight initialisation of the MobileNet network and supernet. The engine's layers start as PyTorch's
// defaults (uniform ±1/√fan_in); ProxylessNAS re-initialises its models with `init_model('he_fout')`:
// every conv N(0, 2/(k·k·out_channels)) (the depthwise ones too: out_channels = the channels), BN γ = 1,
// β = 0, the classifier uniform ±1/√in_features with a zero bias. `zeroLastBnGamma` is the residual
// trick of Goyal et al. (γ = 0 on the last BN of each residual branch, so a block starts as its
// shortcut); ProxylessNAS does not use it, the quick preset measures it (docs/mobilenet.md).
import type { Rng } from '../../engine/rng.js';
import type { Module } from '../../engine/nn/module.js';
import { Conv2d, BatchNorm2d, Linear } from '../../engine/nn/layers.js';
import { noGrad } from '../../engine/tensor.js';
import type { Tensor } from '../../engine/tensor.js';
import { MobileBlock, type MbConvLayer } from './network.js';
import { MixedBlock } from './supernet.js';

function write(t: Tensor, values: Float32Array): void {
  noGrad(() => t.backend.write(t.storage, values));
}

/** ProxylessNAS's `init_model(model, 'he_fout')` on every module under `root`. */
export function heFanOutInit(root: Module, rng: Rng): void {
  for (const [, m] of root.namedModules()) {
    if (m instanceof Conv2d) {
      const std = Math.sqrt(2 / (m.kernel * m.kernel * m.cout));
      write(m.weight, Float32Array.from({ length: m.weight.size }, () => rng.normal() * std));
      if (m.bias) write(m.bias, new Float32Array(m.bias.size));
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) write(m.weight, new Float32Array(m.weight.size).fill(1));
      if (m.bias) write(m.bias, new Float32Array(m.bias.size));
    } else if (m instanceof Linear) {
      const bound = 1 / Math.sqrt(m.weight.shape[1]);
      write(m.weight, Float32Array.from({ length: m.weight.size }, () => (2 * rng.next() - 1) * bound));
      if (m.bias) write(m.bias, new Float32Array(m.bias.size));
    }
  }
}

/** γ = 0 on the projection BN (`point_linear.bn`) of every MBConv in a block with an identity
 *  shortcut (stand-alone blocks and every candidate of a mixed block), so each such block starts as
 *  the identity. Returns how many BNs were zeroed. */
export function zeroLastBnGamma(root: Module): number {
  const layers: MbConvLayer[] = [];
  for (const [, m] of root.namedModules()) {
    if (m instanceof MobileBlock && m.layout.identity && m.op) layers.push(m.op);
    if (m instanceof MixedBlock && m.layout.identity) for (const c of m.candidates) if (c) layers.push(c);
  }
  for (const l of layers) {
    const g = l.pointLinear.bn.weight;
    if (g) write(g, new Float32Array(g.size));
  }
  return layers.length;
}

/**
 * Nested initialisation of each mixed block's candidates: one He fan-out draw for the block's largest
 * candidate (largest expansion and kernel), every other candidate a slice of it — the first `mid`
 * channels of the expansion, the centre k×k of the depthwise kernels, the first `mid` input columns of
 * the projection (Once-for-All's elastic kernel and width weight sharing, at initialisation only:
 * afterwards each candidate trains its own copy). So at the start every candidate of a block computes a
 * related function of its input and the next block sees features of the same meaning whichever op ran;
 * with independent draws the six blocks without a shortcut (docs/mobilenet.md) hand the rest of the
 * network unrelated features at every step and a uniformly sampled supernet stays at chance at the
 * quick preset's budget. Returns how many blocks were initialised.
 */
export function nestedCandidateInit(root: Module, rng: Rng): number {
  let blocks = 0;
  for (const [, m] of root.namedModules()) {
    if (!(m instanceof MixedBlock)) continue;
    const ops = m.candidates.filter((c): c is MbConvLayer => c !== null);
    if (ops.length === 0) continue;
    const mid = Math.max(...ops.map((c) => c.mid)), k = Math.max(...ops.map((c) => c.kernel));
    const cin = m.layout.cin, cout = m.layout.cout;
    const normal = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * std);
    const expand = normal(mid * cin, Math.sqrt(2 / mid)); // [mid, cin]
    const depth = normal(mid * k * k, Math.sqrt(2 / (k * k * mid))); // [mid, k, k]
    const point = normal(cout * mid, Math.sqrt(2 / cout)); // [cout, mid]
    for (const c of ops) {
      if (c.invertedBottleneck) write(c.invertedBottleneck.conv.weight, expand.slice(0, c.mid * cin));
      const kc = c.kernel, off = (k - kc) / 2, dw = new Float32Array(c.mid * kc * kc);
      for (let ch = 0; ch < c.mid; ch++) {
        for (let y = 0; y < kc; y++) for (let x = 0; x < kc; x++) dw[(ch * kc + y) * kc + x] = depth[(ch * k + y + off) * k + x + off];
      }
      write(c.depthConv.conv.weight, dw);
      const pw = new Float32Array(cout * c.mid);
      for (let o = 0; o < cout; o++) pw.set(point.subarray(o * mid, o * mid + c.mid), o * c.mid);
      write(c.pointLinear.conv.weight, pw);
    }
    blocks++;
  }
  return blocks;
}
