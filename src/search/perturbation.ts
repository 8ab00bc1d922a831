// Architecture selection by perturbation (the idea of Wang et al., "Rethinking Architecture Selection in
// Differentiable NAS", ICLR 2021): instead of reading the architecture off α, ask the trained supernet
// which op on each decision it actually relies on. Decision by decision, each enabled op is removed
// from the mixture (its weight set to 0, the others left as they are) and the supernet's validation
// accuracy measured; the op whose removal costs the most accuracy is kept, and the decision is then
// fixed to that op alone (weight 1) before the next decision is examined, so later choices see the
// earlier ones (progressive projection, without the paper's fine-tuning between decisions).
//
// Why: after a short search, α has barely moved from uniform and its argmax follows which ops helped
// the loss first — parameter-free ops (pooling, skip) win that race long before the convolutions are
// trained (docs/quality.md). The mixture's weights, not α, are what the short budget trains, and the
// accuracy drop measures what they learned.
//
// Cost: one validation pass per enabled op of every decision with more than one op, plus one per
// decision for the reference accuracy (NB201: 6 × (5 + 1) passes over the scoring batches).
import { Tensor } from '../engine/index.js';
import type { Genotype } from '../spaces/space.js';
import type { EvalData } from './batch.js';
import type { BaseMethod } from './method.js';

export interface PerturbationResult {
  genotype: Genotype;
  genotypeString: string;
  /** accuracy drop (points) when each op was removed, row-major like α; NaN where not measured
   *  (masked ops, decisions with a single enabled op) */
  drops: number[];
  /** the mixture's validation accuracy before any decision was fixed */
  baseAccuracy: number;
}

/**
 * Derive `method`'s genotype by perturbation on `valid`. `weights` is the mixture the supernet was
 * trained with (row-major [rows, cols], masked entries 0; DARTS: masked softmax(α)). `bn` as the
 * search scores its leaves. The supernet's weights are not changed (BN running statistics move in
 * training mode, as any scoring pass in that mode does).
 */
export async function deriveByPerturbation(
  method: BaseMethod, valid: EvalData, o: { weights: Float32Array; bn: 'train' | 'eval' },
): Promise<PerturbationResult> {
  const space = method.space, mask = method.mask, be = method.backend;
  const { rows, cols } = space;
  if (o.weights.length !== rows * cols) throw new Error(`deriveByPerturbation: ${o.weights.length} mixture weights, expected ${rows}×${cols}`);
  const current = Float32Array.from(o.weights);
  const accuracyWith = async (w: Float32Array): Promise<number> => {
    const t = Tensor.fromArray(be, w, [rows, cols]);
    try {
      return (await method.evaluate(valid, { arch: space.mixedSample(mask, t), bn: o.bn })).accuracy;
    } finally {
      t.dispose();
    }
  };
  const drops = new Array<number>(rows * cols).fill(Number.NaN);
  const baseAccuracy = await accuracyWith(current);
  const score = new Float32Array(rows * cols).fill(-Infinity);
  for (const d of space.decisions) {
    const ops = space.enabledOps(mask, d.index);
    const row = d.index * cols;
    let best = ops[0];
    if (ops.length > 1) {
      const reference = d.index === space.decisions[0].index ? baseAccuracy : await accuracyWith(current);
      let bestDrop = -Infinity;
      for (const op of ops) {
        const w = Float32Array.from(current);
        w[row + op] = 0;
        const drop = reference - await accuracyWith(w);
        drops[row + op] = drop;
        // ties (e.g. equal accuracies on few batches) go to the larger mixture weight
        if (drop > bestDrop || (drop === bestDrop && current[row + op] > current[row + best])) { bestDrop = drop; best = op; }
      }
    }
    for (const op of ops) score[row + op] = op === best ? 1 : 0;
    // fix the decision to its chosen op before the next one is examined
    for (let j = 0; j < cols; j++) current[row + j] = 0;
    current[row + best] = 1;
  }
  // the space's own derivation rule over the measured preference (NB201: argmax per edge, so exactly
  // the chosen ops; spaces that also pick a topology, such as DARTS' top-2 inputs per node, rank the
  // edges by these scores: the chosen op's drop plus one)
  for (let i = 0; i < score.length; i++) if (score[i] === 1 && Number.isFinite(drops[i])) score[i] = 1 + drops[i] / 100;
  const genotype = space.derive(score, mask);
  return { genotype, genotypeString: space.formatGenotype(genotype), drops, baseAccuracy };
}
