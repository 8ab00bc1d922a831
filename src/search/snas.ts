// SNAS as GM runs it (spec §2.3, `--method ws-snas`): every forward draws one soft Gumbel-softmax
// sample θ = softmax((α + g)/τ) over the enabled ops of each edge (hard=False); α is updated
// first-order and bilevel (∇α L_valid under a fresh sample, Adam), not by SNAS's original single-level
// rule. α starts at N(1, 0.01); τ falls linearly from 1 to 0.1 per epoch (presets.ts).
// Derivation: argmax of softmax(α)·mask = argmax of the masked α ('none' included).
import { Tensor, noGrad } from '../engine/index.js';
import type { ArchSample } from '../spaces/space.js';
import { BaseMethod, type BaseMethodOptions } from './method.js';
import { gumbelSoftmax, gumbelNoise } from './relax.js';
import type { Rng } from '../data/rng.js';

export class Snas extends BaseMethod {
  readonly name = 'snas' as const;
  constructor(o: BaseMethodOptions) { super('snas', o); }

  protected create(o: BaseMethodOptions): Snas { return new Snas(o); }

  sampleArch(o: { withGrad?: boolean; rng?: Rng } = {}): ArchSample {
    // The reference redraws when the sample holds inf/NaN; finite noise and a finite τ cannot produce
    // one here (the masked bias is finite), so one draw suffices.
    const noise = Tensor.fromArray(this.backend, gumbelNoise(o.rng ?? this.rng, this.alpha.size), this.alpha.shape);
    const make = (): Tensor => gumbelSoftmax(this.alpha, this.bias, noise, this.tau);
    return this.space.mixedSample(this.mask, o.withGrad ? make() : noGrad(make));
  }
}
