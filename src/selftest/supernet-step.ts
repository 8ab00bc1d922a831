// One training step of a small NB201 search supernet on two backends (the device under test and the
// CPU reference), for the self-test's last row: the same seeded weights, batch and DARTS-style mixed
// sample (every op on every edge, weights softmax(α) with α = 0, i.e. uniform), then forward,
// cross-entropy, backward, one SGD step (NB201's: lr 0.025, momentum 0.9, nesterov, wd 5e-4) and the
// loss again. The two backends must agree on the loss before and after the step, on the gradient norm
// of the weights and α, and on every gradient element up to f32 reordering.
//
// Weights are identical by construction: the initialisation draws from the engine Rng on the host and
// uploads, so the same seed gives the same values on any backend.
import type { Backend } from '../engine/backend.js';
import { Tensor, Rng as EngineRng, tidy, noGrad, backward, crossEntropy, softmax, SGD } from '../engine/index.js';
import { getSpace } from '../spaces/registry.js';
import { seededNormal } from './cases.js';

export interface SupernetStepOptions {
  C?: number; N?: number; numClasses?: number; batch?: number; size?: number; seed?: number;
}

export interface SupernetStepResult {
  /** what ran, e.g. "NB201 supernet C4 N1, 8×3×16×16, 10 classes, all ops" */
  shape: string;
  lossCpu: number; lossGpu: number;
  /** loss of the same batch after one SGD step */
  lossAfterCpu: number; lossAfterGpu: number;
  /** ‖∇w‖₂ over every weight with a gradient, plus α */
  gradNormCpu: number; gradNormGpu: number;
  /** worst elementwise gradient disagreement, |Δ| / (rtol·|g_cpu| + atol_t), where atol_t scales with the tensor's largest |g| (≤ 1 passes) */
  worstGradExcess: number;
  /** name of the tensor where that happened */
  worstGradTensor: string;
  /** tolerances: relative for loss and norm */
  rtol: number;
  msCpu: number; msGpu: number;
  pass: boolean;
}

const RTOL = 1e-3;
/** per-element gradient tolerance: rtol·|g| + ATOL_FRAC·max|g| of that tensor */
const GRAD_RTOL = 2e-3;
const ATOL_FRAC = 1e-3;

interface StepOutcome {
  loss: number; lossAfter: number; names: string[]; grads: Float32Array[]; ms: number;
}

async function stepOn(be: Backend, o: Required<SupernetStepOptions>): Promise<StepOutcome> {
  const t0 = performance.now();
  const space = getSpace();
  const net = space.buildSupernet(be, new EngineRng(o.seed), {
    C: o.C, N: o.N, inputChannels: 3, numClasses: o.numClasses, trackCellStats: true,
  });
  const alpha = Tensor.fromArray(be, new Float32Array(space.rows * space.cols), [space.rows, space.cols]).param('alpha');
  const x = Tensor.fromArray(be, seededNormal(o.batch * 3 * o.size * o.size, o.seed + 1), [o.batch, 3, o.size, o.size]);
  const y = Tensor.fromArray(be, Array.from({ length: o.batch }, (_, i) => (i * 7 + 3) % o.numClasses), [o.batch]);
  const named = net.namedParameters();
  const opt = new SGD(named.map(([, p]) => p), { lr: 0.025, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  try {
    const loss = tidy(() => {
      const sample = space.mixedSample(net.mask, softmax(alpha));
      const l = crossEntropy(net.forward(x, sample), y);
      backward(l);
      return l;
    });
    const lossValue = (await loss.data())[0];
    loss.dispose();
    const withGrad = [...named.filter(([, p]) => p.grad), ['alpha', alpha] as [string, Tensor]];
    const grads = await Promise.all(withGrad.map(([, p]) => p.grad!.data()));
    opt.step();
    // BN running statistics moved in the first forward; the batch-statistics forward does not read them.
    const after = noGrad(() => tidy(() => crossEntropy(net.forward(x, space.mixedSample(net.mask, softmax(alpha))), y)));
    const lossAfter = (await after.data())[0];
    after.dispose();
    return { loss: lossValue, lossAfter, names: withGrad.map(([n]) => n), grads, ms: performance.now() - t0 };
  } finally {
    opt.dispose();
    for (const t of [alpha, x, y]) { t.grad?.dispose(); t.grad = null; t.dispose(); }
    net.dispose();
  }
}

function norm(gs: Float32Array[]): number {
  let s = 0;
  for (const g of gs) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

/**
 * One training step of the same small NB201 supernet on `gpu` (any backend under test) and `cpu`
 * (the reference). Never throws for a numeric mismatch: `pass` says it.
 */
export async function supernetStepComparison(gpu: Backend, cpu: Backend, opts: SupernetStepOptions = {}): Promise<SupernetStepResult> {
  const o: Required<SupernetStepOptions> = { C: 4, N: 1, numClasses: 10, batch: 8, size: 16, seed: 5, ...opts };
  const ref = await stepOn(cpu, o);
  await gpu.sync();
  const got = await stepOn(gpu, o);
  const gradNormCpu = norm(ref.grads), gradNormGpu = norm(got.grads);
  let worstGradExcess = got.names.length === ref.names.length ? 0 : Infinity, worstGradTensor = '';
  if (got.names.length !== ref.names.length) worstGradTensor = `${got.names.length} gradients vs ${ref.names.length}`;
  else {
    ref.grads.forEach((g, t) => {
      const h = got.grads[t];
      let maxAbs = 0;
      for (let i = 0; i < g.length; i++) maxAbs = Math.max(maxAbs, Math.abs(g[i]));
      const atol = ATOL_FRAC * maxAbs + 1e-12;
      for (let i = 0; i < g.length; i++) {
        const e = Math.abs(h[i] - g[i]) / (GRAD_RTOL * Math.abs(g[i]) + atol);
        if (!(e <= worstGradExcess)) { worstGradExcess = Number.isNaN(e) ? Infinity : e; worstGradTensor = ref.names[t]; }
      }
    });
  }
  const pass = relDiff(got.loss, ref.loss) <= RTOL && relDiff(got.lossAfter, ref.lossAfter) <= RTOL &&
    relDiff(gradNormGpu, gradNormCpu) <= RTOL && worstGradExcess <= 1 &&
    [got.loss, got.lossAfter, gradNormGpu].every(Number.isFinite);
  return {
    shape: `NB201 supernet C${o.C} N${o.N}, ${o.batch}×3×${o.size}×${o.size}, ${o.numClasses} classes, all ops (DARTS mixed, uniform)`,
    lossCpu: ref.loss, lossGpu: got.loss, lossAfterCpu: ref.lossAfter, lossAfterGpu: got.lossAfter,
    gradNormCpu, gradNormGpu, worstGradExcess, worstGradTensor, rtol: RTOL,
    msCpu: ref.ms, msGpu: got.ms, pass,
  };
}
