// ProxylessNAS's hardware-aware architecture loss, one module for its two cost sources: the expected
// multiply-adds (the reference's `--target_hardware flops`; its `expected_flops`; the space's opMacs) or
// the expected latency from a lookup table measured on the current backend (`--target_hardware` with
// a device's table; src/nas/latency-table.ts, `--latency-target`). "m" below is either. Per decision the
// softmax of α over its enabled ops weights each op's cost,
//     E(α) = fixed + Σ_d Σ_j p_dj · m_dj,   p_d = softmax(α_d) over the enabled ops,
// and the α step's loss becomes (the reference's two forms, `grad_reg_loss_type`):
//     'mul#log'     L = a · CE · (log E / log T)^β        (the reference's default: a 0.2, β 0.3)
//     'add#linear'  L = CE + λ · (E − T) / T               (λ 0.1)
// with T the target (`ref_value`; the reference's flops table gives 300M at width 1.0). E depends on α
// through p only, so its gradient is exact and reaches every enabled op of a decision:
//     ∂E/∂α_di = p_di (m_di − Σ_j p_dj m_dj).
// CE's own α gradient comes from the binary gates (proxyless.ts); under 'mul#log' the gate gradients
// are scaled by ∂L/∂CE = a·(log E / log T)^β. As in the reference, a decision whose active op is the
// no-op keeps no α gradient at all (its grad is set to None after backward, the regulariser's share
// included), and a decision with one enabled op never moves. Pure host arithmetic: α is on the host
// for the binary-gate draw anyway.

export type FlopsLossType = 'mul#log' | 'add#linear';

export interface FlopsLossSettings {
  target: number;
  type: FlopsLossType;
  alpha: number;
  beta: number;
  lambda: number;
}

export interface ExpectedMacs {
  /** E(α) */
  value: number;
  /** ∂E/∂α, row-major [rows, cols] (0 on disabled columns) */
  grad: Float64Array;
}

/** E(α) and ∂E/∂α; `enabled(d)` lists decision d's enabled columns, `opMacs.ops[d][j]` their costs. */
export function expectedMacs(alpha: ArrayLike<number>, cols: number, enabled: (d: number) => readonly number[],
  opMacs: { fixed: number; ops: readonly (readonly number[])[] }): ExpectedMacs {
  const rows = opMacs.ops.length;
  const grad = new Float64Array(rows * cols);
  let value = opMacs.fixed;
  for (let d = 0; d < rows; d++) {
    const en = enabled(d);
    let mx = -Infinity;
    for (const j of en) mx = Math.max(mx, alpha[d * cols + j]);
    const e = en.map((j) => Math.exp(alpha[d * cols + j] - mx));
    const z = e.reduce((a, b) => a + b, 0);
    const m = en.map((j) => {
      const v = opMacs.ops[d][j];
      if (!Number.isFinite(v)) throw new Error(`expected FLOPs: decision ${d} enables column ${j}, which has no cost`);
      return v;
    });
    let mean = 0;
    en.forEach((_, k) => { mean += (e[k] / z) * m[k]; });
    value += mean;
    en.forEach((j, k) => { grad[d * cols + j] = (e[k] / z) * (m[k] - mean); });
  }
  return { value, grad };
}

/** The regularised loss's value, ∂L/∂CE (the factor on the gate gradients) and ∂L/∂E. */
export function flopsLoss(ce: number, expected: number, s: FlopsLossSettings): { loss: number; dCe: number; dE: number } {
  if (!(s.target > 1)) throw new Error(`flops target ${s.target} must be > 1 multiply-add`);
  if (s.type === 'mul#log') {
    const r = Math.log(expected) / Math.log(s.target);
    const reg = Math.pow(r, s.beta);
    return {
      loss: s.alpha * ce * reg,
      dCe: s.alpha * reg,
      dE: s.alpha * ce * s.beta * Math.pow(r, s.beta - 1) / (expected * Math.log(s.target)),
    };
  }
  return { loss: ce + (s.lambda * (expected - s.target)) / s.target, dCe: 1, dE: s.lambda / s.target };
}
