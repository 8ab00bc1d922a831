// The `depthwise` bench section: ReLU → depthwise conv forward + backward (input gradient through the
// ReLU, weight gradient) at the shapes of the DARTS space (sep_conv / dil_conv, first stage and a
// reduction cell) and of a CIFAR-sized MobileNet space (expanded channels, 3×3 to 7×7), on
//   - gmnas's depthwise kernels (shaders/conv2d_depthwise.wgsl),
//   - gmnas's implicit-GEMM kernels (switches.depthwiseKernels = false: what ran before them),
//   - tfjs-backend-webgpu 4.22's DepthwiseConv2dNative kernels and their backprop kernels, NHWC,
//     on the same Dawn adapter (tfjs-core's gradient refuses dilation > 1: those rows have no tfjs).
// Backend-level calls (the fused-ReLU kernels), warm-up, then the median of `reps` synced runs.
import type { Backend, ConvGeom, Storage } from '../src/engine/backend.js';
import { convOutSize } from '../src/engine/backend.js';
import { medianSyncedMs, values, type TfjsHandle } from './tfjs-conv.js';
import { switches } from '../src/engine/switches.js';

export interface DepthwiseCase { name: string; C: number; S: number; k: number; stride: number; dil: number }

export const DEPTHWISE_CASES: DepthwiseCase[] = [
  { name: 'dw-sep3-c16-32', C: 16, S: 32, k: 3, stride: 1, dil: 1 },
  { name: 'dw-sep5-c16-32', C: 16, S: 32, k: 5, stride: 1, dil: 1 },
  { name: 'dw-dil3-c16-32', C: 16, S: 32, k: 3, stride: 1, dil: 2 },
  { name: 'dw-dil5-c16-32', C: 16, S: 32, k: 5, stride: 1, dil: 2 },
  { name: 'dw-sep3-c32-16-s2', C: 32, S: 16, k: 3, stride: 2, dil: 1 },
  { name: 'dw-mb7-c96-32', C: 96, S: 32, k: 7, stride: 1, dil: 1 },
  { name: 'dw-mb5-c144-16-s2', C: 144, S: 16, k: 5, stride: 2, dil: 1 },
];

export function depthwiseGeom(c: DepthwiseCase, N: number): ConvGeom {
  const p = ((c.k - 1) * c.dil) / 2;
  const O = convOutSize(c.S, c.k, c.stride, p, c.dil);
  return {
    N, Cin: c.C, H: c.S, W: c.S, Cout: c.C, KH: c.k, KW: c.k, OH: O, OW: O, strideH: c.stride, strideW: c.stride,
    padH: p, padW: p, dilH: c.dil, dilW: c.dil, groups: c.C, reluInput: true,
  };
}

/** ms per ReLU → conv forward + input gradient + weight gradient on `be`, with the depthwise kernels
 *  on (`dedicated`) or the implicit-GEMM ones. */
export async function gmnasDepthwiseFwdBwd(be: Backend, c: DepthwiseCase, N: number, reps: number, dedicated: boolean): Promise<number> {
  const g = depthwiseGeom(c, N);
  const xs = be.upload(values(N * c.C * c.S * c.S, (i) => Math.sin(i * 0.37)));
  const ws = be.upload(values(c.C * c.k * c.k, (i) => Math.cos(i) * 0.1));
  const dys = be.upload(values(N * c.C * g.OH * g.OW, (i) => Math.cos(i * 0.11)));
  const ys = be.alloc(N * c.C * g.OH * g.OW), dxs = be.alloc(N * c.C * c.S * c.S), dws = be.alloc(c.C * c.k * c.k);
  const prev = switches.depthwiseKernels;
  switches.depthwiseKernels = dedicated;
  try {
    const step = (): void => {
      be.conv2d(xs, ws, null, ys, g);
      be.conv2dInputGrad(dys, ws, dxs, g, xs);
      be.conv2dWeightGrad(dys, xs, dws, g);
    };
    return await medianSyncedMs(step, () => be.sync(), reps);
  } finally {
    switches.depthwiseKernels = prev;
    for (const s of [xs, ws, dys, ys, dxs, dws] as Storage[]) be.release(s);
  }
}

/** The same five steps on tfjs (NHWC): relu, DepthwiseConv2dNative, its two backprop kernels, dy·step(x).
 *  Null where tfjs has no gradient (dilation > 1). */
export async function tfjsDepthwiseFwdBwd(h: TfjsHandle, c: DepthwiseCase, N: number, reps: number): Promise<number | null> {
  if (c.dil !== 1) return null;
  const { tf } = h;
  const g = depthwiseGeom(c, 1);
  const p = g.padH;
  const x = tf.tensor4d(values(N * c.S * c.S * c.C, (i) => Math.sin(i * 0.37)), [N, c.S, c.S, c.C]);
  const w = tf.tensor4d(values(c.k * c.k * c.C, (i) => Math.cos(i) * 0.1), [c.k, c.k, c.C, 1]);
  const dy = tf.tensor4d(values(N * g.OH * g.OW * c.C, (i) => Math.cos(i * 0.11)), [N, g.OH, g.OW, c.C]);
  const attrs = { strides: c.stride, pad: p, dilations: 1 };
  const step = (): void => {
    tf.tidy(() => {
      const xr = tf.relu(x);
      const y = tf.depthwiseConv2d(xr, w, c.stride, p);
      const dxr = tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w },
        { ...attrs, inputShape: [N, c.S, c.S, c.C] }) as import('@tensorflow/tfjs-core').Tensor;
      const dw = tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x: xr, dy },
        { ...attrs, filterShape: [c.k, c.k, c.C, 1] }) as import('@tensorflow/tfjs-core').Tensor;
      const dx = tf.mul(dxr, tf.step(x));
      return [y, dx, dw];
    }).forEach((t) => t.dispose());
  };
  const ms = await medianSyncedMs(step, () => h.sync(), reps);
  x.dispose(); w.dispose(); dy.dispose();
  return ms;
}
