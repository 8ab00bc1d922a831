// The optimizer and gradient clipping over whole arenas (shaders/flat_optim.wgsl): parameters,
// gradients and momenta each in one buffer (src/engine/optim/arena.ts), so SGD is one launch for
// every parameter and clipping two (sum of squares per workgroup; then every workgroup adds the
// partials, takes the factor and scales its share) — instead of one multi-tensor launch per few
// tensors (kernels/multi.ts).
import type { SgdParams } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { channelReduceWorkgroup } from './conv.js';

/** partial sums of the clipping norm at most (every workgroup of the second pass reads them all) */
const MAX_PARTIALS = 256;

function checkSegments(op: string, segs: GpuStorage, nseg: number): void {
  if (!Number.isInteger(nseg) || nseg < 0) throw new GpuError(`${op}: nseg ${nseg} must be a non-negative integer`);
  if (segs.length < 4 * nseg) throw new GpuError(`${op}: segs holds ${segs.length} words, needs ${4 * nseg}`);
}

/** sgdStep with momentum on every segment of the param / grad / momentum arenas. */
export function sgdStepFlat(rt: GpuRuntime, param: GpuStorage, grad: GpuStorage, mom: GpuStorage, segs: GpuStorage,
  nseg: number, p: SgdParams): void {
  const op = 'sgdStepFlat';
  checkSegments(op, segs, nseg);
  if (!(p.momentum > 0)) throw new GpuError(`${op}: needs momentum > 0 (got ${p.momentum})`);
  if (grad.length < param.length || mom.length < param.length) {
    throw new GpuError(`${op}: grad (${grad.length}) and momBuf (${mom.length}) must hold the param arena's ${param.length} values`);
  }
  if (nseg === 0 || param.length === 0) return;
  const WG = 64;
  rt.dispatch({
    shader: 'flat_optim', entry: 'sgd', bindings: [segs, grad, param, mom],
    params: { u: [nseg, p.nesterov ? 1 : 0, 0], f: [p.lr, p.momentum, p.dampening, p.weightDecay, 0] },
    constants: { WG }, workgroups: [rt.strideGroups(param.length, WG), 1, 1],
  });
}

/** clip_grad_norm_ over the segments of the gradient arena. */
export function clipGradNormFlat(rt: GpuRuntime, grad: GpuStorage, segs: GpuStorage, nseg: number, maxNorm: number): void {
  const op = 'clipGradNormFlat';
  checkSegments(op, segs, nseg);
  if (nseg === 0 || grad.length === 0) return;
  const WG = channelReduceWorkgroup(rt);
  const groups = Math.min(MAX_PARTIALS, rt.strideGroups(grad.length, WG));
  const partials = rt.alloc(groups);
  const params = { u: [nseg, 0, groups], f: [0, 0, 0, 0, maxNorm] };
  rt.dispatch({ shader: 'flat_optim', entry: 'sumsq', bindings: [segs, grad, partials], params, constants: { WG }, workgroups: [groups, 1, 1] });
  rt.dispatch({
    shader: 'flat_optim', entry: 'scale', bindings: [segs, grad, partials], params, constants: { WG },
    workgroups: [rt.strideGroups(grad.length, WG), 1, 1],
  });
  rt.release(partials);
}
