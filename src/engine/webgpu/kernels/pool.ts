// WebGPU pooling kernels (shaders/pool2d.wgsl, pool2d_backward_{avg,max}.wgsl, pool2d_3x3s1.wgsl,
// pool_global_avg.wgsl),
// with the semantics of the Backend methods: PyTorch windows (floor output size), avg with or
// without padded zeros in the divisor, max taking the first maximum (a NaN wins) and routing its
// gradient there. Window geometry is override constants, tensor sizes uniforms. Backward passes
// gather over the windows that contain each input pixel, so they need no atomics; max backward
// first recomputes each window's argmax into a temporary buffer (a second dispatch).
import type { ChannelGeom, GradWrite, PoolGeom } from '../../backend.js';
import { convOutSize } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { auxStorage, requireLength, requirePositive } from './conv.js';
import { switches } from '../../switches.js';

/** Invocations per workgroup of the window kernels (each covers 4 columns). */
const POOL_WG = 64;
const GLOBAL_WG = 256;

function checkPoolGeom(op: string, g: PoolGeom): void {
  requirePositive(op, g, ['N', 'C', 'H', 'W', 'OH', 'OW', 'KH', 'KW', 'strideH', 'strideW']);
  if (!(Number.isInteger(g.padH) && g.padH >= 0 && Number.isInteger(g.padW) && g.padW >= 0)) {
    throw new GpuError(`${op}: padding ${g.padH}x${g.padW} must be non-negative integers`);
  }
  const OH = convOutSize(g.H, g.KH, g.strideH, g.padH), OW = convOutSize(g.W, g.KW, g.strideW, g.padW);
  if (OH !== g.OH || OW !== g.OW) {
    throw new GpuError(`${op}: output ${g.OH}x${g.OW} does not match input ${g.H}x${g.W} and window ` +
      `geometry (expected ${OH}x${OW})`);
  }
  if (g.kind !== 'avg' && g.kind !== 'max') throw new GpuError(`${op}: unknown pool kind ${String(g.kind)}`);
}

/** Override constants: the window geometry (its loops unroll). */
function windowConstants(g: PoolGeom): Record<string, number> {
  return { KH: g.KH, KW: g.KW, SH: g.strideH, SW: g.strideW, PH: g.padH, PW: g.padW, WG: POOL_WG };
}

/** Uniform parameters: the tensor sizes. */
function sizeParams(g: PoolGeom): { u: number[]; i: number[] } {
  return { u: [g.N * g.C, g.countIncludePad ? 1 : 0], i: [g.H, g.W, g.OH, g.OW] };
}

/** Forward pass (entry 'main') or argmax indices (entry 'argmax', max only) into out. */
function poolForward(rt: GpuRuntime, x: GpuStorage, out: GpuStorage, g: PoolGeom, entry: 'main' | 'argmax'): void {
  const tiles = g.N * g.C * g.OH * Math.ceil(g.OW / 4);
  rt.dispatch({
    shader: 'pool2d', entry, bindings: [x, out], params: sizeParams(g),
    constants: { ...windowConstants(g), IS_MAX: g.kind === 'max' ? 1 : 0 },
    workgroups: rt.strideGrid(tiles, POOL_WG),
  });
}

/** The avg_pool_3x3 of NB201 and DARTS (stride 1, padding 1) with W % 4 == 0: pool2d_3x3s1.wgsl's
 *  strip kernels serve it (each input row loaded once per 4 outputs). */
function isAvg3x3s1(g: PoolGeom): boolean {
  return switches.poolStripKernel && g.kind === 'avg' && g.KH === 3 && g.KW === 3 && g.strideH === 1 &&
    g.strideW === 1 && g.padH === 1 && g.padW === 1 && g.W % 4 === 0;
}

/** pool2d_3x3s1.wgsl's `forward` or `backward`: src is read as vec4s and as scalars (one buffer bound
 *  twice); the backward scales by w[index] and/or accumulates as `write` says. */
function avg3x3s1(rt: GpuRuntime, entry: 'forward' | 'backward', src: GpuStorage, out: GpuStorage, g: PoolGeom,
  write: GradWrite = {}): void {
  const scale = write.scale ?? null;
  rt.dispatch({
    shader: 'pool2d_3x3s1', entry, readOnly: 2,
    bindings: entry === 'forward' ? [src, src, out] : [src, src, out, (scale?.w as GpuStorage | undefined) ?? auxStorage(rt, 'ones', 1)],
    params: { u: [g.N * g.C, g.countIncludePad ? 1 : 0, write.accumulate ? 1 : 0, scale ? 1 : 0, scale?.index ?? 0], i: [g.H, g.W] },
    constants: { WG: POOL_WG }, workgroups: rt.strideGrid(g.N * g.C * (g.W / 4), POOL_WG),
  });
}

/** Whether pool2dBackward can scale and accumulate in its kernel (else the caller composes it). */
export function backwardWritesInPlace(g: PoolGeom): boolean {
  return isAvg3x3s1(g);
}

export function pool2d(rt: GpuRuntime, x: GpuStorage, y: GpuStorage, g: PoolGeom): void {
  const op = 'pool2d';
  checkPoolGeom(op, g);
  requireLength(op, 'x', x, g.N * g.C * g.H * g.W);
  requireLength(op, 'y', y, g.N * g.C * g.OH * g.OW);
  if (isAvg3x3s1(g)) avg3x3s1(rt, 'forward', x, y, g);
  else poolForward(rt, x, y, g, 'main');
}

/** dx = the pooling gradient of dy; with `write` (only where backwardWritesInPlace), scaled and/or
 *  added to dx in the same pass. */
export function pool2dBackward(rt: GpuRuntime, dy: GpuStorage, x: GpuStorage, dx: GpuStorage, g: PoolGeom,
  write: GradWrite = {}): void {
  const op = 'pool2dBackward';
  checkPoolGeom(op, g);
  const outSize = g.N * g.C * g.OH * g.OW;
  requireLength(op, 'dy', dy, outSize);
  requireLength(op, 'x', x, g.N * g.C * g.H * g.W);
  requireLength(op, 'dx', dx, g.N * g.C * g.H * g.W);
  if (write.scale) requireLength(op, 'scale.w', write.scale.w as GpuStorage, write.scale.index + 1);
  if (dx === dy || dx === write.scale?.w) throw new GpuError(`${op}: dx must not be dy or the scale's storage`);
  if (isAvg3x3s1(g)) {
    avg3x3s1(rt, 'backward', dy, dx, g, write);
    return;
  }
  if (write.scale || write.accumulate) throw new GpuError(`${op}: scaled or accumulated writes need the 3x3 stride-1 kernel`);
  const workgroups = rt.strideGrid(g.N * g.C * g.H * Math.ceil(g.W / 4), POOL_WG);
  const params = sizeParams(g);
  if (g.kind === 'avg') {
    rt.dispatch({
      shader: 'pool2d_backward_avg', bindings: [dy, dx], params, workgroups, constants: windowConstants(g),
    });
    return;
  }
  const argIdx = rt.alloc(outSize);
  poolForward(rt, x, argIdx, g, 'argmax');
  rt.dispatch({ shader: 'pool2d_backward_max', bindings: [dy, dx, argIdx], params, workgroups, constants: windowConstants(g) });
  rt.release(argIdx);
}

/** y[n, c] = mean over HW of x[n, c, :] */
export function globalAvgPool(rt: GpuRuntime, x: GpuStorage, y: GpuStorage, g: ChannelGeom): void {
  const op = 'globalAvgPool';
  requirePositive(op, g, ['N', 'C', 'HW']);
  requireLength(op, 'x', x, g.N * g.C * g.HW);
  requireLength(op, 'y', y, g.N * g.C);
  rt.dispatch1D({
    shader: 'pool_global_avg', entry: 'forward', bindings: [x, y], threads: g.N * g.C,
    workgroupSize: GLOBAL_WG, params: { u: [g.N * g.C, g.HW] },
  });
}

export function globalAvgPoolBackward(rt: GpuRuntime, dy: GpuStorage, dx: GpuStorage, g: ChannelGeom): void {
  const op = 'globalAvgPoolBackward';
  requirePositive(op, g, ['N', 'C', 'HW']);
  requireLength(op, 'dy', dy, g.N * g.C);
  requireLength(op, 'dx', dx, g.N * g.C * g.HW);
  rt.dispatch1D({
    shader: 'pool_global_avg', entry: 'backward', bindings: [dy, dx], threads: g.N * g.C * g.HW,
    workgroupSize: GLOBAL_WG, params: { u: [g.N * g.C, g.HW] },
  });
}
