// ProxylessNAS (Cai et al., ICLR 2019) as a base method, on the SearchSpace interface alone: binary
// gates ('two' mode). Written for the MobileNet space (spec §5.2) but nothing here knows a space: a
// decision is a row of α, its candidates the enabled columns of the mask.
//
//   weight step  one op per decision drawn from p = softmax(α) over its enabled ops (a single path, no
//                weights tensor); cross-entropy with label smoothing (hyper.labelSmoothing, 0.1 on this
//                method); SGD as every base method.
//   α step       per decision two distinct ops a, b drawn from p without replacement; one made active
//                with probability q = softmax(α_a, α_b); binary gates g (1 on the active op, 0 on the
//                other) are the sample's weights [rows, cols] and carry the gradient. The block computes
//                g_a·op_a(x) + g_b·op_b(x): the inactive op's output enters with weight 0, so its
//                parameters get no gradient and ProxylessNAS's detach changes nothing but compute (the
//                weights are frozen in this step anyway). From the gate gradients G:
//                    ∂L/∂α_i = Σ_j G_j q_j (δ_ij − q_i),  i, j ∈ {a, b}
//                then Adam (lr 1e-3, betas (0, 0.999)) and the two sampled α shifted by one offset so
//                that Σ exp over them is what it was (the other ops' probabilities do not move).
//                A decision whose active op is a no-op (the space's 'zero': it runs nothing) gets no α
//                gradient, as ProxylessNAS (grad None there); a decision with one enabled op runs it at
//                gate 1 and learns nothing. The α loss is plain cross-entropy, as ProxylessNAS's.
//   order        weight step, then α step, both from the α read at the start of the step (as GDAS).
//   full mode    hyper.fullNoOpFree (ProxylessNAS's 'full' mode, used here only where a decision has no
//                no-op, MobileNet's six blocks without `zero`; off by default): in the weight step and
//                GM's θ samples such a decision runs every enabled op, its output Σ_j softmax(α)_j·op_j(x)
//                (uniform while α is untrained), so each candidate gets a gradient every step and the
//                function no longer jumps between 6^6 combinations; the α step keeps the binary gates.
//                Costs ~2.4× the CPU of a single-path weight step at the quick sizes.
//   holding      hyper.holdSteps K > 1 (our addition, not ProxylessNAS's): a decision without a no-op
//                (MobileNet: the six blocks without a shortcut, whose op is the only way through)
//                keeps its drawn op for K weight steps; the others are drawn every step. Each draw is
//                still from softmax(α), so the path frequencies stay softmax(α); GM's θ samples
//                (sampleArch) use the held ops too, as they are the supernet's current function. A
//                fresh method (a child at a split, a resumed checkpoint) draws anew at its first step.
//                Why: redrawn every step, those blocks hand the rest of the network features of a new
//                meaning at every step and the quick supernet stays at chance (docs/mobilenet.md).
//   derive       argmax of the masked α (the space's derive).
//
// Host round trips per step: α read (30–150 floats), and in an α step the gate gradients read, α read
// after Adam and written back rescaled.
//
// Where we differ from ProxylessNAS: α is one [rows, cols] tensor with one Adam, so a decision with no
// gradient this step still has its second moment decayed (β1 = 0 makes its update exactly 0, as a
// skipped parameter) and the bias-correction step count is shared; ProxylessNAS updates α every 5 weight
// steps (grad_update_arch_param_every), here every step once α is trained (GM's schedule). The
// reference's hardware loss is available with the expected multiply-adds as the hardware value
// (`--flops-target`, flops-loss.ts); off by default, as in the GM reference (target_hardware None).
import { Tensor, tidy, noGrad, backward, crossEntropy, keep } from '../engine/index.js';
import { expectedMacs, flopsLoss, type FlopsLossSettings } from './flops-loss.js';
import type { ArchSample } from '../spaces/space.js';
import { BaseMethod, type BaseMethodOptions } from './method.js';
import type { DeviceBatch } from './batch.js';
import type { Rng } from '../data/rng.js';

/** latency tables are in ms; the hardware loss sees µs (see flopsSettings) */
const US_PER_MS = 1000;

/** softmax of `alpha[base + j]` over the columns `ops` (returned in the order of `ops`). */
export function softmaxOver(alpha: ArrayLike<number>, base: number, ops: readonly number[]): number[] {
  let m = -Infinity;
  for (const j of ops) m = Math.max(m, alpha[base + j]);
  const e = ops.map((j) => Math.exp(alpha[base + j] - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** An index drawn with probabilities `p` (inverse CDF); rounding past the last partial sum gives the
 *  last entry of positive probability. */
export function drawIndex(p: readonly number[], u: number): number {
  let acc = 0, last = 0;
  for (let i = 0; i < p.length; i++) {
    if (!(p[i] > 0)) continue;
    acc += p[i];
    last = i;
    if (u < acc) return i;
  }
  return last;
}

/** One binary-gate draw: per decision the ops that run, the active one (−1: nothing to learn). */
export interface BinaryGateDraw {
  /** per decision [active] or [active, inactive] op columns */
  ops: number[][];
  /** per decision the two sampled columns [active, inactive], or null (one enabled op, or `zero` active) */
  involved: ([number, number] | null)[];
  /** gate values, row-major [rows, cols]: 1 at each decision's active op */
  gates: Float32Array;
}

export class Proxyless extends BaseMethod {
  readonly name = 'proxyless' as const;
  constructor(o: BaseMethodOptions) { super('proxyless', o); }

  protected create(o: BaseMethodOptions): Proxyless { return new Proxyless(o); }

  protected override get weightStepFirst(): boolean { return true; }

  protected override async prepareStep(): Promise<Float32Array> { return this.alpha.data(); }

  /** the held ops (column per decision, −1: drawn every step), null when holding is off */
  private held: number[] | null = null;
  private weightStepsDone = 0;

  /** Advance the hold by one weight step: every holdSteps-th step (the first included) redraw the held
   *  decisions' ops from softmax(α). Public for tests; the weight step calls it. */
  advanceHold(alphaHost: Float32Array, rng: Rng = this.rng): void {
    const k = this.hyper.holdSteps;
    if (!(k > 1)) { this.held = null; return; }
    if (this.weightStepsDone++ % k !== 0 && this.held) return;
    const { rows, cols } = this.space;
    this.held = Array.from({ length: rows }, (_, d) => {
      const en = this.space.enabledOps(this.mask, d);
      if (this.space.decisions[d].ops.some((_, j) => this.isNoOp(d, j))) return -1; // has a way around: drawn every step
      return en[drawIndex(softmaxOver(alphaHost, d * cols, en), rng.next())];
    });
  }

  /** The held op columns (−1 where drawn every step), or null (for tests and logs). */
  heldOps(): readonly number[] | null { return this.held; }

  protected override weightStep(train: DeviceBatch, alphaHost: Float32Array | undefined): void {
    if (alphaHost) this.advanceHold(alphaHost);
    super.weightStep(train, alphaHost);
  }

  /** Per decision one enabled op drawn from softmax(α). Needs `alphaHost` (await method.alphaValues()). */
  sampleArch(o: { withGrad?: boolean; rng?: Rng; alphaHost?: Float32Array } = {}): ArchSample {
    if (!o.alphaHost) throw new Error('proxyless.sampleArch: pass alphaHost (await method.alphaValues()) — the paths are drawn from α on the host');
    const rng = o.rng ?? this.rng;
    const { rows, cols } = this.space;
    const ops = Array.from({ length: rows }, (_, d) => {
      const en = this.space.enabledOps(this.mask, d);
      const drawn = en[drawIndex(softmaxOver(o.alphaHost!, d * cols, en), rng.next())];
      const held = this.held?.[d] ?? -1;
      return [held >= 0 && en.includes(held) ? held : drawn];
    });
    if (!this.hyper.fullNoOpFree) return { ops, weights: null };
    // full mode on the decisions without a no-op: every enabled op at its softmax(α) weight; the
    // others keep their one drawn op at weight 1
    const w = new Float32Array(rows * cols);
    for (let d = 0; d < rows; d++) {
      const hasNoOp = this.space.decisions[d].ops.some((_, j) => this.isNoOp(d, j));
      const en = this.space.enabledOps(this.mask, d);
      if (hasNoOp || en.length === 1) { w[d * cols + ops[d][0]] = 1; continue; }
      const p = softmaxOver(o.alphaHost, d * cols, en);
      en.forEach((j, k) => { w[d * cols + j] = p[k]; });
      ops[d] = en.slice();
    }
    return { ops, weights: Tensor.fromArray(this.backend, w, [rows, cols]) };
  }

  /** The α step's draw (exported for tests): two ops per decision from softmax(α), the active one
   *  from softmax of their two α. A decision whose active op runs nothing (the space's no-op) runs it
   *  alone and is not involved. */
  drawBinaryGates(alphaHost: Float32Array, rng: Rng = this.rng): BinaryGateDraw {
    const { rows, cols } = this.space;
    const gates = new Float32Array(rows * cols);
    const ops: number[][] = [];
    const involved: ([number, number] | null)[] = [];
    for (let d = 0; d < rows; d++) {
      const en = this.space.enabledOps(this.mask, d);
      if (en.length === 1) {
        ops.push([en[0]]); involved.push(null); gates[d * cols + en[0]] = 1;
        continue;
      }
      const p = softmaxOver(alphaHost, d * cols, en);
      const first = drawIndex(p, rng.next());
      const rest = p.map((x, k) => (k === first ? 0 : x));
      const total = rest.reduce((a, b) => a + b, 0);
      const second = drawIndex(rest.map((x) => x / total), rng.next());
      const pair: [number, number] = [en[first], en[second]];
      const q = softmaxOver(alphaHost, d * cols, pair);
      const c = drawIndex(q, rng.next());
      const active = pair[c], inactive = pair[1 - c];
      gates[d * cols + active] = 1;
      if (this.isNoOp(d, active)) {
        ops.push([active]); involved.push(null); // the block is its shortcut: no gate gradient (ProxylessNAS: None)
      } else {
        ops.push([active, inactive]); involved.push([active, inactive]);
      }
    }
    return { ops, involved, gates };
  }

  /** Whether op `j` of decision `d` is the space's no-op (named 'zero' or 'none'). */
  private isNoOp(d: number, j: number): boolean {
    const name = this.space.decisions[d].ops[j];
    return name === 'zero' || name === 'none';
  }

  /** Gate gradients → α gradient [rows, cols] (ProxylessNAS's estimate, see the file comment). */
  static alphaGradient(alphaHost: ArrayLike<number>, cols: number, involved: readonly ([number, number] | null)[], gateGrads: ArrayLike<number>): Float32Array {
    const g = new Float32Array(alphaHost.length);
    involved.forEach((pair, d) => {
      if (!pair) return;
      const q = softmaxOver(alphaHost, d * cols, pair);
      for (let i = 0; i < 2; i++) {
        let s = 0;
        for (let j = 0; j < 2; j++) s += gateGrads[d * cols + pair[j]] * q[j] * ((i === j ? 1 : 0) - q[i]);
        g[d * cols + pair[i]] = s;
      }
    });
    return g;
  }

  /** The hardware loss's settings and cost table: the expected-FLOPs one (hyper.flopsTarget > 0, the
   *  space's opMacs) or the latency one (hyper.latencyTarget > 0, the measured table). Both run through
   *  the same code (flops-loss.ts); latency in µs there, so that the 'mul#log' form's log E / log T has
   *  E, T > 1 even for sub-millisecond networks (the reference's tables are in ms at ~80 ms targets). */
  private flopsSettings(): FlopsLossSettings | null {
    const h = this.hyper;
    const loss = { type: h.flopsLoss, alpha: h.flopsAlpha, beta: h.flopsBeta, lambda: h.flopsLambda };
    if (h.latencyTarget > 0) {
      if (!this.opMacsTable) {
        if (!h.latencyTable) throw new Error('--latency-target: no latency table was measured');
        this.opMacsTable = { fixed: h.latencyTable.fixed * US_PER_MS, ops: h.latencyTable.ops.map((r) => r.map((v) => v * US_PER_MS)) };
      }
      return { target: h.latencyTarget * US_PER_MS, ...loss };
    }
    if (!(h.flopsTarget > 0)) return null;
    if (!this.opMacsTable) {
      if (!this.space.opMacs) throw new Error(`--flops-target: the ${this.space.name} space has no per-op cost model (opMacs)`);
      this.opMacsTable = this.space.opMacs(this.sizes, this.imageShape[1]);
    }
    return { target: h.flopsTarget, ...loss };
  }
  /** the hardware loss's cost table: multiply-adds, or latency in µs */
  private opMacsTable: { fixed: number; ops: number[][] } | null = null;

  /** The expected multiply-adds under softmax(α) (the FLOPs loss's E; needs a space with opMacs). */
  expectedMacs(alphaHost: ArrayLike<number>): number {
    const table = this.space.opMacs?.(this.sizes, this.imageShape[1]);
    if (!table) throw new Error(`the ${this.space.name} space has no per-op cost model (opMacs)`);
    return expectedMacs(alphaHost, this.space.cols, (d) => this.space.enabledOps(this.mask, d), table).value;
  }

  /** The expected latency in ms under softmax(α) (needs hyper.latencyTable). */
  expectedLatencyMs(alphaHost: ArrayLike<number>): number {
    const t = this.hyper.latencyTable;
    if (!t) throw new Error('no latency table (--latency-target)');
    return expectedMacs(alphaHost, this.space.cols, (d) => this.space.enabledOps(this.mask, d), t).value;
  }

  /** The binary-gate α gradient of CE (`grad`) turned into the regularised loss's: scaled by ∂L/∂CE, plus
   *  ∂L/∂E·∂E/∂α on every decision that has a gradient this step (flops-loss.ts). */
  private addFlopsLoss(alpha: Float32Array, involved: readonly ([number, number] | null)[], grad: Float32Array, ce: number, s: FlopsLossSettings): Float32Array {
    const cols = this.space.cols;
    const e = expectedMacs(alpha, cols, (d) => this.space.enabledOps(this.mask, d), this.opMacsTable!);
    const f = flopsLoss(ce, e.value, s);
    this.lastExpectedMacs = e.value;
    const out = new Float32Array(grad.length);
    involved.forEach((pair, d) => {
      if (!pair) return; // the reference: no α gradient where the no-op is active (nor with one op)
      for (let j = 0; j < cols; j++) out[d * cols + j] = f.dCe * grad[d * cols + j] + f.dE * e.grad[d * cols + j];
    });
    return out;
  }
  /** E(α) of the last α step with the hardware loss (for logs and tests; latency: in µs) */
  lastExpectedMacs: number | null = null;

  /** ∂L/∂α left in `alpha.grad`; the draw is remembered for the rescale after Adam. */
  private lastInvolved: ([number, number] | null)[] | null = null;
  private lastAlpha: Float32Array | null = null;

  protected override async computeArchGrad(_train: DeviceBatch, valid: DeviceBatch, alphaHost: Float32Array | undefined): Promise<void> {
    const alpha = alphaHost ?? await this.alpha.data();
    const draw = this.drawBinaryGates(alpha);
    const gates = Tensor.fromArray(this.backend, draw.gates, [this.space.rows, this.space.cols]).param('binary_gates');
    const flops = this.flopsSettings();
    let ce: Tensor | null = null;
    try {
      this.withFrozenWeights(() => tidy(() => {
        const loss = crossEntropy(this.supernet.forward(valid.x, { ops: draw.ops, weights: gates }), valid.y);
        backward(loss);
        if (flops) ce = keep(loss);
      }));
      const gateGrads = gates.grad ? await gates.grad.data() : new Float32Array(gates.size);
      this.archOptimizer.zeroGrad();
      let grad = Proxyless.alphaGradient(alpha, this.space.cols, draw.involved, gateGrads);
      if (flops && ce) {
        const ceValue = (await (ce as Tensor).data())[0];
        grad = this.addFlopsLoss(alpha, draw.involved, grad, ceValue, flops);
      }
      this.alpha.grad = Tensor.fromArray(this.backend, grad, this.alpha.shape);
      this.lastInvolved = draw.involved;
      this.lastAlpha = alpha;
    } finally {
      (ce as Tensor | null)?.dispose();
      gates.grad?.dispose();
      gates.grad = null;
      gates.dispose();
    }
  }

  protected override async archStep(train: DeviceBatch, valid: DeviceBatch, alphaHost: Float32Array | undefined): Promise<void> {
    await this.computeArchGrad(train, valid, alphaHost);
    this.archOptimizer.step();
    this.archOptimizer.zeroGrad();
    const before = this.lastAlpha!, involved = this.lastInvolved!;
    this.lastAlpha = this.lastInvolved = null;
    const after = await this.alpha.data();
    const cols = this.space.cols;
    involved.forEach((pair, d) => {
      if (!pair) return;
      const [a, b] = pair.map((j) => d * cols + j);
      const offset = Math.log((Math.exp(after[a]) + Math.exp(after[b])) / (Math.exp(before[a]) + Math.exp(before[b])));
      after[a] -= offset;
      after[b] -= offset;
    });
    noGrad(() => this.backend.write(this.alpha.storage, after));
  }

}
