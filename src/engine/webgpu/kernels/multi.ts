// Multi-tensor kernels (shaders/multi_*.wgsl templates): the optimizer and gradient clipping over
// all parameters in a few launches — K tensors per launch, K as large as the device's storage-binding
// limit allows (15 for clipping and 5 for SGD with lavapipe's 16 bindings, 7 and 2 with the WebGPU
// default of 8) — instead of one or two launches per parameter tensor. Grid-stride loops over each
// tensor in turn, so every lane works on every tensor and nothing branches per element.
import type { SgdItem, SgdParams, TensorRef } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { shaderVariant } from './shader-variants.js';

const WG = 64;
/** workgroups of the multi-tensor kernels at most (their tensors are parameters: small) */
const MAX_GROUPS = 64;
/** sizes slots in the templates' uniform blocks */
const MAX_SIZES = 16;
const MAX_SGD = 8;

export function groupsFor(rt: GpuRuntime, sizes: number[]): number {
  return Math.min(MAX_GROUPS, rt.strideGroups(Math.max(1, ...sizes), WG));
}

function checkRefs(op: string, xs: TensorRef[]): void {
  xs.forEach((x, k) => {
    if (!Number.isInteger(x.n) || x.n < 0) throw new GpuError(`${op}: xs[${k}].n ${x.n} must be a non-negative integer`);
    if (x.s.length < x.n) throw new GpuError(`${op}: xs[${k}] holds ${x.s.length} values, needs ${x.n}`);
  });
}

/** `sizes` padded with zeros to `slots` words (a template's fixed-size uniform array). */
export function sizesWords(sizes: number[], slots: number): number[] {
  const u = sizes.slice();
  while (u.length < slots) u.push(0);
  return u;
}

/** Distinct storages in consecutive chunks of at most `per` (a chunk never binds a buffer twice). */
export function chunks<T>(items: T[], per: number, key: (t: T) => GpuStorage[]): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let used = new Set<GpuStorage>();
  for (const it of items) {
    const ks = key(it);
    if (cur.length >= per || ks.some((k) => used.has(k))) {
      out.push(cur);
      cur = [];
      used = new Set();
    }
    cur.push(it);
    for (const k of ks) used.add(k);
  }
  if (cur.length) out.push(cur);
  return out;
}

/** out[0] = sum of squares of every tensor. */
export function sumSquaresMulti(rt: GpuRuntime, xs: TensorRef[], out: GpuStorage): void {
  const op = 'sumSquaresMulti';
  checkRefs(op, xs);
  if (out.length < 1) throw new GpuError(`${op}: out holds no value`);
  const live = xs.filter((x) => x.n > 0);
  if (xs.some((x) => x.s === out)) throw new GpuError(`${op}: an input is also the output`);
  const per = Math.max(1, Math.min(MAX_SIZES, rt.limits.maxStorageBuffersPerShaderStage - 1));
  const groups = groupsFor(rt, live.map((x) => x.n));
  const cols = live.length;
  const partial = rt.alloc(Math.max(1, groups * cols));
  let col0 = 0;
  for (const part of chunks(live, per, (x) => [x.s as GpuStorage])) {
    rt.dispatch({
      shader: shaderVariant(rt, 'multi_sumsq', { K: part.length }), bindings: [...part.map((x) => x.s as GpuStorage), partial],
      params: { u: [...sizesWords(part.map((x) => x.n), MAX_SIZES), col0, cols] }, constants: { WG },
      workgroups: [groups, 1, 1],
    });
    col0 += part.length;
  }
  // the total of the partials (zero partials: zero)
  rt.dispatch({ shader: 'reduce', entry: 'sum', bindings: [partial, out], constants: { WG: 256 },
    params: { u: [groups * cols, 0], f: [1] }, workgroups: [1, 1, 1] });
  rt.release(partial);
}

/** xs[k] *= f[fIndex] in place, for every k. */
export function scaleInPlaceByElementMulti(rt: GpuRuntime, xs: TensorRef[], f: GpuStorage, fIndex: number): void {
  const op = 'scaleInPlaceByElementMulti';
  checkRefs(op, xs);
  if (!Number.isInteger(fIndex) || fIndex < 0 || fIndex >= f.length) throw new GpuError(`${op}: fIndex ${fIndex} outside f of ${f.length}`);
  const live = xs.filter((x) => x.n > 0);
  if (live.some((x) => x.s === f)) throw new GpuError(`${op}: a tensor is also f`);
  const per = Math.max(1, Math.min(MAX_SIZES, rt.limits.maxStorageBuffersPerShaderStage - 1));
  for (const part of chunks(live, per, (x) => [x.s as GpuStorage])) {
    rt.dispatch({
      shader: shaderVariant(rt, 'multi_scale', { K: part.length }), bindings: [...part.map((x) => x.s as GpuStorage), f],
      params: { u: [...sizesWords(part.map((x) => x.n), MAX_SIZES), fIndex] }, constants: { WG },
      workgroups: [groupsFor(rt, part.map((x) => x.n)), 1, 1],
    });
  }
}

/** SGD with momentum over every item. */
export function sgdStepMulti(rt: GpuRuntime, items: SgdItem[], p: SgdParams): void {
  const op = 'sgdStepMulti';
  if (!(p.momentum > 0)) throw new GpuError(`${op}: needs momentum > 0 (got ${p.momentum})`);
  items.forEach((it, k) => {
    if (!Number.isInteger(it.n) || it.n < 0) throw new GpuError(`${op}: items[${k}].n ${it.n} must be a non-negative integer`);
    for (const [name, s] of [['param', it.param], ['grad', it.grad], ['momBuf', it.momBuf]] as const) {
      if (s.length < it.n) throw new GpuError(`${op}: items[${k}].${name} holds ${s.length} values, needs ${it.n}`);
    }
    if (it.param === it.grad || it.param === it.momBuf || it.grad === it.momBuf) throw new GpuError(`${op}: items[${k}] repeats a storage`);
  });
  const live = items.filter((it) => it.n > 0);
  const per = Math.max(1, Math.min(MAX_SGD, Math.floor(rt.limits.maxStorageBuffersPerShaderStage / 3)));
  for (const part of chunks(live, per, (it) => [it.param, it.grad, it.momBuf] as GpuStorage[])) {
    rt.dispatch({
      shader: shaderVariant(rt, 'multi_sgd', { K: part.length }),
      bindings: part.flatMap((it) => [it.param, it.grad, it.momBuf] as GpuStorage[]),
      params: { u: [...sizesWords(part.map((it) => it.n), MAX_SGD), p.nesterov ? 1 : 0], f: [p.lr, p.momentum, p.dampening, p.weightDecay] },
      constants: { WG }, workgroups: [groupsFor(rt, part.map((it) => it.n)), 1, 1],
    });
  }
}
