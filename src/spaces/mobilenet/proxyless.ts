// ProxylessNAS (Cai et al., ICLR 2019) as a base method on the MobileNet supernet: binary gates.
//
// α: one vector per searchable block over its candidates (7 with `zero`, 6 without), initialised
// N(0, 1e-3²) as ProxylessNAS's arch_init_type 'normal' with ratio 1e-3.
// Weight step: per block ONE op sampled from p = softmax(α) runs (the others do not exist for this batch);
//   loss = cross-entropy with label smoothing 0.1 (spec §5.2); the caller's optimizer updates the weights.
// Architecture step ('two' mode): per block TWO distinct ops a, b sampled from p without replacement;
//   q = softmax(α_a, α_b); one of them is made active with probability q (binary gates g: 1 on it, 0
//   on the other); the block computes g_a·op_a(x) + g_b·detach(op_b(x)). After backward, ∂L/∂g_j for
//   the two sampled ops gives ProxylessNAS's estimate
//       ∂L/∂α_i += Σ_j ∂L/∂g_j · q_j (δ_ij − q_i)          i, j ∈ {a, b}
//   (binaryGateAlphaGrad); α is updated by Adam (lr 1e-3, betas (0, 0.999), eps 1e-8, no weight decay)
//   and then the two sampled entries are shifted by one common offset so that Σ exp over them is what
//   it was before the update (rescaleInvolved): the other ops' probabilities do not move. A block whose
//   active op is `zero` gets no α gradient (ProxylessNAS leaves its grad None: Adam skips it).
//   The architecture loss is plain cross-entropy (ProxylessNAS's gradient step uses its criterion
//   without smoothing; latency regularisation is not modelled here).
// Derived genotype: per block the op of largest α.
// Masks (GM's sub-supernets): `mask[i][j]` false removes candidate j of block i: it is never sampled,
// its probability is 0 (softmax over the enabled ops), and derive() skips it. A block left with one
// op always runs it and gets no α gradient. RSPS-style uniform sampling over the enabled ops is
// `sampleUniformPaths` (weight steps only, no α).
import { Tensor, tidy, backward, crossEntropy, Adam, Rng, noGrad } from '../../engine/index.js';
import type { Optimizer } from '../../engine/index.js';
import { MOBILE_OPS, parseOp } from './ops.js';
import { MobileNetSupernet, type BlockPath } from './supernet.js';
import type { MobileGenotype } from './genotype.js';

export const PROXYLESS_ARCH_LR = 1e-3;
export const PROXYLESS_ARCH_BETAS: [number, number] = [0, 0.999];
export const PROXYLESS_ARCH_EPS = 1e-8;
export const PROXYLESS_LABEL_SMOOTHING = 0.1;
export const PROXYLESS_ALPHA_INIT_STD = 1e-3;

export function softmax(v: readonly number[]): number[] {
  const m = Math.max(...v);
  const e = v.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** One index drawn with probabilities `p` (inverse CDF); never an index of probability 0 (rounding
 *  leaving u above the last partial sum falls back to the last positive entry). */
export function sampleIndex(p: readonly number[], u: number): number {
  let acc = 0, last = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] <= 0) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last;
}

/** Two distinct indices drawn from `p` without replacement (torch.multinomial(p, 2) semantics). */
export function sampleTwo(p: readonly number[], rng: Rng): [number, number] {
  const first = sampleIndex(p, rng.next());
  const rest = p.map((x, i) => (i === first ? 0 : x));
  const total = rest.reduce((a, b) => a + b, 0);
  const second = total > 0 ? sampleIndex(rest.map((x) => x / total), rng.next()) : (first + 1) % p.length;
  return [first, second];
}

/** ProxylessNAS's α gradient from the binary-gate gradients of the two sampled ops `involved`
 *  (added into a zero vector of α's length): ∂L/∂α_i = Σ_j G_j q_j (δ_ij − q_i), q = softmax(α_involved). */
export function binaryGateAlphaGrad(alpha: readonly number[], involved: readonly [number, number], gateGrads: readonly [number, number]): number[] {
  const q = softmax([alpha[involved[0]], alpha[involved[1]]]);
  const grad = new Array<number>(alpha.length).fill(0);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) grad[involved[i]] += gateGrads[j] * q[j] * ((i === j ? 1 : 0) - q[i]);
  }
  return grad;
}

/** Shift the involved entries of `alpha` (after an update) by one offset so that Σ exp over them equals
 *  its value in `before`; returns the new vector. */
export function rescaleInvolved(alpha: readonly number[], involved: readonly number[], before: readonly number[]): number[] {
  const sumExp = (v: readonly number[]) => involved.reduce((s, i) => s + Math.exp(v[i]), 0);
  const offset = Math.log(sumExp(alpha) / sumExp(before));
  return alpha.map((a, i) => (involved.includes(i) ? a - offset : a));
}

export interface ProxylessStepResult { loss: number; paths: BlockPath[] }

/** Which candidates of each block are enabled (all when no mask is given); throws on a bad shape. */
function checkMask(mask: readonly (readonly boolean[])[] | undefined, sizes: number[]): boolean[][] {
  if (!mask) return sizes.map((n) => new Array<boolean>(n).fill(true));
  if (mask.length !== sizes.length || mask.some((row, i) => row.length !== sizes[i])) {
    throw new Error(`MobileNet mask: expected ${sizes.length} rows of sizes ${sizes.join('/')}`);
  }
  mask.forEach((row, i) => { if (!row.some(Boolean)) throw new Error(`MobileNet mask: block ${i} has no enabled op`); });
  return mask.map((row) => [...row]);
}

/** softmax over the enabled entries, 0 elsewhere. */
export function maskedSoftmax(alpha: readonly number[], enabled: readonly boolean[]): number[] {
  const idx = alpha.map((_, j) => j).filter((j) => enabled[j]);
  const q = softmax(idx.map((j) => alpha[j]));
  const p = new Array<number>(alpha.length).fill(0);
  idx.forEach((j, k) => { p[j] = q[k]; });
  return p;
}

/** RSPS-style paths: per block one enabled op drawn uniformly. */
export function sampleUniformPaths(supernet: MobileNetSupernet, rng: Rng, mask?: readonly (readonly boolean[])[]): BlockPath[] {
  const m = checkMask(mask, supernet.blocks.map((b) => b.choices.length));
  return m.map((row) => {
    const idx = row.map((_, j) => j).filter((j) => row[j]);
    return { active: idx[Math.min(idx.length - 1, Math.floor(rng.next() * idx.length))] };
  });
}

export class ProxylessSearch {
  /** α per searchable block (device tensors, updated by Adam) */
  readonly alphas: Tensor[];
  /** host copy of α, kept in sync after every update */
  private host: number[][];
  readonly archOptimizer: Adam;
  readonly gateOffsets: number[];
  private readonly gateCount: number;
  readonly mask: boolean[][];
  constructor(readonly supernet: MobileNetSupernet, readonly rng: Rng, mask?: readonly (readonly boolean[])[]) {
    const be = supernet.firstConv.conv.weight.backend;
    this.mask = checkMask(mask, supernet.blocks.map((b) => b.choices.length));
    // host values are kept f32-exact, so what the device holds and what the host believes are the same
    this.host = supernet.blocks.map((b) => b.choices.map(() => Math.fround(rng.normal() * PROXYLESS_ALPHA_INIT_STD)));
    this.alphas = this.host.map((a, i) => Tensor.fromArray(be, a, [a.length]).param(`alpha.${i}`));
    this.archOptimizer = new Adam(this.alphas, { lr: PROXYLESS_ARCH_LR, betas: PROXYLESS_ARCH_BETAS, eps: PROXYLESS_ARCH_EPS });
    let off = 0;
    this.gateOffsets = supernet.blocks.map((b) => { const o = off; off += b.choices.length; return o; });
    this.gateCount = off;
  }

  /** softmax(α) over the enabled ops of each block (0 for disabled ones) */
  probabilities(): number[][] { return this.host.map((a, i) => maskedSoftmax(a, this.mask[i])); }

  /** The weight step's paths: one op per block sampled from softmax(α). */
  sampleSinglePaths(): BlockPath[] {
    return this.probabilities().map((p) => ({ active: sampleIndex(p, this.rng.next()) }));
  }

  /** One weight step on a batch: sampled single paths, CE with label smoothing 0.1, `optimizer.step()`. */
  async weightStep(x: Tensor, y: Tensor, optimizer: Optimizer): Promise<ProxylessStepResult> {
    const paths = this.sampleSinglePaths();
    this.supernet.train();
    optimizer.zeroGrad();
    const loss = tidy(() => {
      const l = crossEntropy(this.supernet.forward(x, paths), y, PROXYLESS_LABEL_SMOOTHING);
      backward(l);
      return l;
    });
    optimizer.step();
    const value = (await loss.data())[0];
    loss.dispose();
    return { loss: value, paths };
  }

  /** One architecture step on a batch (see the file comment). */
  async archStep(x: Tensor, y: Tensor): Promise<ProxylessStepResult> {
    const be = x.backend;
    const probs = this.probabilities();
    const gateValues = new Float32Array(this.gateCount);
    const paths: BlockPath[] = probs.map((p, i) => {
      if (this.mask[i].filter(Boolean).length === 1) return { active: this.mask[i].indexOf(true) }; // nothing to choose
      const [s0, s1] = sampleTwo(p, this.rng);
      const q = softmax([this.host[i][s0], this.host[i][s1]]);
      const c = sampleIndex(q, this.rng.next());
      const active = c === 0 ? s0 : s1, inactive = c === 0 ? s1 : s0;
      gateValues[this.gateOffsets[i] + active] = 1;
      return { active, inactive, gateOffset: this.gateOffsets[i] };
    });
    const gates = Tensor.fromArray(be, gateValues, [this.gateCount]).param('binary gates');
    for (const p of paths) if (p.inactive !== undefined) p.gates = gates;
    this.supernet.train();
    const loss = tidy(() => {
      const l = crossEntropy(this.supernet.forward(x, paths), y);
      backward(l);
      return l;
    });
    // the weights' gradients from this batch are not used (ProxylessNAS zeroes them before its next weight step)
    for (const p of this.supernet.parameters()) { p.grad?.dispose(); p.grad = null; }
    const gateGrads = gates.grad ? await gates.grad.data() : new Float32Array(this.gateCount);
    const before = this.host.map((a) => [...a]);
    this.archOptimizer.zeroGrad();
    noGrad(() => {
      paths.forEach((p, i) => {
        if (p.inactive === undefined) return; // a block with one enabled op: nothing to learn
        if (parseOp(MOBILE_OPS[p.active]).kind === 'zero') return; // no α gradient (ProxylessNAS: grad None)
        const off = this.gateOffsets[i];
        const g = binaryGateAlphaGrad(this.host[i], [p.active, p.inactive!], [gateGrads[off + p.active], gateGrads[off + p.inactive!]]);
        this.alphas[i].grad = Tensor.fromArray(be, g, [g.length]);
      });
    });
    this.archOptimizer.step();
    for (let i = 0; i < this.alphas.length; i++) {
      if (!this.alphas[i].grad) continue;
      const updated = Array.from(await this.alphas[i].data());
      const p = paths[i];
      this.host[i] = rescaleInvolved(updated, [p.active, p.inactive!], before[i]).map(Math.fround);
      be.write(this.alphas[i].storage, Float32Array.from(this.host[i]));
    }
    this.archOptimizer.zeroGrad();
    gates.grad?.dispose(); gates.grad = null; gates.dispose();
    const value = (await loss.data())[0];
    loss.dispose();
    return { loss: value, paths };
  }

  /** α per block (host copy). */
  alphaValues(): number[][] { return this.host.map((a) => [...a]); }

  /** Replace α (checkpoint resume, children inheriting their parent's α). */
  setAlphas(values: readonly (readonly number[])[]): void {
    if (values.length !== this.host.length || values.some((v, i) => v.length !== this.host[i].length)) {
      throw new Error(`ProxylessSearch.setAlphas: expected ${this.host.length} rows of sizes ${this.host.map((a) => a.length).join('/')}`);
    }
    this.host = values.map((v) => v.map(Math.fround));
    this.host.forEach((a, i) => this.alphas[i].backend.write(this.alphas[i].storage, Float32Array.from(a)));
  }

  /** Per block the enabled op of largest α (first on ties). */
  derive(): MobileGenotype {
    return this.host.map((a, i) => {
      let best = -1;
      a.forEach((v, j) => { if (this.mask[i][j] && (best < 0 || v > a[best])) best = j; });
      return parseOp(MOBILE_OPS[best]);
    });
  }

  dispose(): void {
    this.archOptimizer.dispose();
    for (const a of this.alphas) { a.grad?.dispose(); a.dispose(); }
  }
}
