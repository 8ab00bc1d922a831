// WebGPU batch normalisation kernels (shaders/batchnorm_*.wgsl), with the semantics of the Backend
// methods: statistics per channel over N*HW values, the biased variance normalises, the unbiased one
// feeds the running variance (r = (1 - momentum) r + momentum batch), outputs overwritten.
//
// Training-mode statistics and the backward reductions use one workgroup per channel (NB201 has
// N*HW <= 64*1024 values per channel and 16..64 channels), each a single dispatch. A layer without
// affine parameters binds cached constant buffers of ones / zeros instead of gamma / beta, and
// unwanted optional outputs (running statistics, parameter gradients) bind scratch buffers with a
// flag that turns their writes off: each shader has one binding layout. Shapes travel as uniform
// parameters, so one pipeline per shader serves every layer (few compiles, which lavapipe makes
// expensive: ~0.2 s each).
import type { BatchNormGeom } from '../../backend.js';
import { GpuError } from '../device.js';
import type { GpuRuntime, GpuStorage } from '../runtime.js';
import { REDUCE_WG, auxStorage, channelReduceWorkgroup, foldGrid, requireLength, requirePositive } from './conv.js';

/** Values per invocation of the eval-mode forward pass. */
const EVAL_PER = 8;

/** Throw unless g is a valid batch-norm geometry (shared with the fused kernels in mixed.ts). */
export function checkBnGeom(op: string, g: BatchNormGeom): void {
  requirePositive(op, g, ['N', 'C', 'HW']);
  if (!(g.eps > 0) || !Number.isFinite(g.eps)) throw new GpuError(`${op}: eps ${g.eps} must be a positive number`);
  if (!(g.momentum >= 0 && g.momentum <= 1)) throw new GpuError(`${op}: momentum ${g.momentum} must be in [0, 1]`);
}

/** Training mode: normalise with batch statistics, save mean and 1/sqrt(var+eps), and update the
 *  running statistics in place when given. */
export function batchNormTrain(rt: GpuRuntime, x: GpuStorage, gamma: GpuStorage | null, beta: GpuStorage | null,
  y: GpuStorage, saveMean: GpuStorage, saveInvStd: GpuStorage, runMean: GpuStorage | null,
  runVar: GpuStorage | null, g: BatchNormGeom): void {
  const op = 'batchNormTrain';
  checkBnGeom(op, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'x', x, n);
  requireLength(op, 'y', y, n);
  for (const [name, s] of [['gamma', gamma], ['beta', beta], ['saveMean', saveMean], ['saveInvStd', saveInvStd],
    ['runMean', runMean], ['runVar', runVar]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  if ((runMean === null) !== (runVar === null)) {
    throw new GpuError(`${op}: runMean and runVar must be both given or both null`);
  }
  rt.dispatch({
    shader: 'batchnorm_train',
    bindings: [x, gamma ?? auxStorage(rt, 'ones', g.C), beta ?? auxStorage(rt, 'zeros', g.C), y, saveMean,
      saveInvStd, runMean ?? auxStorage(rt, 'scratchA', g.C), runVar ?? auxStorage(rt, 'scratchB', g.C)],
    params: { u: [g.N, g.C, g.HW, runMean ? 1 : 0], f: [g.eps, g.momentum] },
    constants: { WG: channelReduceWorkgroup(rt) }, workgroups: foldGrid(rt, g.C),
  });
}

/** Eval mode: normalise with the running statistics. */
export function batchNormEval(rt: GpuRuntime, x: GpuStorage, gamma: GpuStorage | null, beta: GpuStorage | null,
  runMean: GpuStorage, runVar: GpuStorage, y: GpuStorage, g: BatchNormGeom): void {
  const op = 'batchNormEval';
  checkBnGeom(op, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'x', x, n);
  requireLength(op, 'y', y, n);
  for (const [name, s] of [['gamma', gamma], ['beta', beta], ['runMean', runMean], ['runVar', runVar]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  const chunks = Math.ceil((g.N * g.HW) / (REDUCE_WG * EVAL_PER));
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (chunks > maxPerDim || g.C > maxPerDim) {
    throw new GpuError(`${op}: ${g.N}x${g.C}x${g.HW} needs a ${chunks}x${g.C} workgroup grid, over ${maxPerDim}`);
  }
  rt.dispatch({
    shader: 'batchnorm_eval',
    bindings: [x, gamma ?? auxStorage(rt, 'ones', g.C), beta ?? auxStorage(rt, 'zeros', g.C), runMean, runVar, y],
    params: { u: [g.N, g.C, g.HW], f: [g.eps] }, constants: { WG: REDUCE_WG, PER: EVAL_PER },
    workgroups: [chunks, g.C, 1],
  });
}

/** Backward of batchNormTrain. dgamma / dbeta are written when non-null. */
export function batchNormBackward(rt: GpuRuntime, dy: GpuStorage, x: GpuStorage, gamma: GpuStorage | null,
  saveMean: GpuStorage, saveInvStd: GpuStorage, dx: GpuStorage, dgamma: GpuStorage | null,
  dbeta: GpuStorage | null, g: BatchNormGeom): void {
  const op = 'batchNormBackward';
  checkBnGeom(op, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'dy', dy, n);
  requireLength(op, 'x', x, n);
  requireLength(op, 'dx', dx, n);
  for (const [name, s] of [['gamma', gamma], ['saveMean', saveMean], ['saveInvStd', saveInvStd],
    ['dgamma', dgamma], ['dbeta', dbeta]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  rt.dispatch({
    shader: 'batchnorm_backward',
    bindings: [dy, x, gamma ?? auxStorage(rt, 'ones', g.C), saveMean, saveInvStd, dx,
      dgamma ?? auxStorage(rt, 'scratchA', g.C), dbeta ?? auxStorage(rt, 'scratchB', g.C)],
    params: { u: [g.N, g.C, g.HW, dgamma || dbeta ? 1 : 0] },
    constants: { WG: channelReduceWorkgroup(rt) }, workgroups: foldGrid(rt, g.C),
  });
}

/** Backward of batchNormEval (the statistics are constants). */
export function batchNormEvalBackward(rt: GpuRuntime, dy: GpuStorage, x: GpuStorage, gamma: GpuStorage | null,
  runMean: GpuStorage, runVar: GpuStorage, dx: GpuStorage, dgamma: GpuStorage | null,
  dbeta: GpuStorage | null, g: BatchNormGeom): void {
  const op = 'batchNormEvalBackward';
  checkBnGeom(op, g);
  const n = g.N * g.C * g.HW;
  requireLength(op, 'dy', dy, n);
  requireLength(op, 'x', x, n);
  requireLength(op, 'dx', dx, n);
  for (const [name, s] of [['gamma', gamma], ['runMean', runMean], ['runVar', runVar], ['dgamma', dgamma],
    ['dbeta', dbeta]] as const) {
    if (s) requireLength(op, name, s, g.C);
  }
  const maxPerDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
  if (g.C > maxPerDim) throw new GpuError(`${op}: ${g.C} channels exceed ${maxPerDim} workgroups`);
  rt.dispatch({
    shader: 'batchnorm_eval_backward',
    bindings: [dy, x, gamma ?? auxStorage(rt, 'ones', g.C), runMean, runVar, dx,
      dgamma ?? auxStorage(rt, 'scratchA', g.C), dbeta ?? auxStorage(rt, 'scratchB', g.C)],
    params: { u: [g.N, g.C, g.HW, dgamma || dbeta ? 1 : 0], f: [g.eps] },
    constants: { WG: channelReduceWorkgroup(rt) }, workgroups: [g.C, 1, 1],
  });
}
