// GDAS (spec §2.5; ADL `search_model_gdas.py`, `search_cells.py` forward_gdas): every forward draws
// Gumbel noise g, picks per edge index = argmax((log_softmax(α) + g)/τ) over the enabled ops and runs
// that op alone, weighted by the straight-through hard weight (value 1, gradient of
// probs = softmax((log_softmax(α) + g)/τ)); the other enabled ops add their hard weight (value 0) as a
// constant, which sends them the gradient Σ dy as in ADL. τ falls linearly from 10 to 0.1 over
// E − 1 epochs. Order per iteration as ADL: weight step, then α step (first order, valid batch), both
// with α read once at the start of the step (it does not change in between).
// Derivation: argmax of the masked α.
import { Tensor } from '../engine/index.js';
import type { ArchSample } from '../spaces/space.js';
import { BaseMethod, type BaseMethodOptions } from './method.js';
import { gdasHardWeights, gdasIndex, gumbelNoise } from './relax.js';
import type { Rng } from '../data/rng.js';

export class Gdas extends BaseMethod {
  readonly name = 'gdas' as const;
  constructor(o: BaseMethodOptions) { super('gdas', o); }

  protected create(o: BaseMethodOptions): Gdas { return new Gdas(o); }

  protected override get weightStepFirst(): boolean { return true; }

  protected override async prepareStep(): Promise<Float32Array> { return this.alpha.data(); }

  /** Needs `alphaHost` (α's current values) to choose the ops on the host. */
  sampleArch(o: { withGrad?: boolean; rng?: Rng; alphaHost?: Float32Array } = {}): ArchSample {
    if (!o.alphaHost) throw new Error('gdas.sampleArch: pass alphaHost (await method.alphaValues()) — GDAS picks its ops from α on the host');
    const noiseHost = gumbelNoise(o.rng ?? this.rng, this.alpha.size);
    const index = gdasIndex(o.alphaHost, noiseHost, this.mask, this.space);
    if (!o.withGrad) return { ops: index.map((op) => [op]), weights: null }; // hard weights are exactly one-hot
    const noise = Tensor.fromArray(this.backend, noiseHost, this.alpha.shape);
    const weights = gdasHardWeights(this.alpha, this.bias, noise, this.tau, index);
    const weightOnly = index.map((op, e) => this.space.enabledOps(this.mask, e).filter((k) => k !== op));
    return { ops: index.map((op) => [op]), weights, weightOnly };
  }
}

