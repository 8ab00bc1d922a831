// The DARTS evaluation network for CIFAR-sized images (the reference's `NetworkCIFAR`, model.py), built
// from a genotype, with the reference's module names so its state dict loads in PyTorch:
//   stem.{0,1}.*                        Conv2d(in, 3C, 3, pad 1) → BN(3C)
//   cells.{i}.preprocess0.*             FactorizedReduce (after a reduction cell) or ReLUConvBN 1×1
//   cells.{i}.preprocess1.op.{1,2}.*    ReLUConvBN 1×1
//   cells.{i}._ops.{k}.*                the k-th (op, input) pair of the genotype's cell list
//   auxiliary_head.features.{2,3,5,6}.*, auxiliary_head.classifier.*   (only with `auxiliary`)
//   classifier.{weight,bias}
// Cells: `layers` of them, reductions at layers//3 and 2·layers//3 (channels doubled), every BN affine.
// Node k of a cell = op_{2k}(state) + op_{2k+1}(state) with drop-path on each non-identity op while
// training; the output concatenates the 4 nodes. The auxiliary head reads the output of cell
// 2·layers//3 (training only) and expects an 8×8 input (CIFAR 32×32).
import {
  Tensor, Module, Sequential, Lambda, Conv2d, BatchNorm2d, Linear, relu, add, concatChannels, globalAvgPool, avgPool2d, dropPath,
  ModuleContainer,
} from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';
import type { Genotype, NetworkBuildOptions, SpaceNetwork } from '../space.js';
import { MULTIPLIER, STEPS, FactorizedReduce, ReLUConvBN, Identity, makeDartsOp, type DartsBn } from './ops.js';
import { decodeGenotype, formatGenotypeText, type CellPair, type DartsGenotypeText } from './genotype.js';
import { STEM_MULTIPLIER, reductionLayers, checkDartsSizes, checkDartsInput } from './supernet.js';

export interface DartsNetworkConfig extends NetworkBuildOptions {
  /** op names by column of the genotype encoding (the space's op set) */
  ops: readonly string[];
  /** build the auxiliary head (its logits come from `forwardTrain`) */
  auxiliary?: boolean;
}

const AFFINE: DartsBn = { affine: true, trackRunningStats: true };

class EvalCell extends Module {
  readonly preprocess0: Forward;
  readonly preprocess1: ReLUConvBN;
  readonly ops: Forward[] = [];
  readonly inputs: number[];
  constructor(be: Backend, rng: EngineRng, pairs: readonly CellPair[], Cpp: number, Cp: number, readonly C: number,
    readonly reduction: boolean, reductionPrev: boolean) {
    super();
    this.preprocess0 = this.child('preprocess0', reductionPrev ? new FactorizedReduce(be, rng, Cpp, C, AFFINE) : new ReLUConvBN(be, rng, Cpp, C, 1, 1, 0, AFFINE));
    this.preprocess1 = this.child('preprocess1', new ReLUConvBN(be, rng, Cp, C, 1, 1, 0, AFFINE));
    const list = this.child('_ops', new ModuleContainer<Forward>());
    pairs.forEach((p, k) => {
      const op = makeDartsOp(be, rng, p.op, C, reduction && p.from < 2 ? 2 : 1, AFFINE);
      if (!op) throw new Error(`DartsNetwork: '${p.op}' cannot be part of an evaluation cell`);
      this.ops.push(list.add(String(k), op));
    });
    this.inputs = pairs.map((p) => p.from);
  }

  forward(s0: Tensor, s1: Tensor, dropProb: number, seed: () => number): Tensor {
    const states = [this.preprocess0.forward(s0), this.preprocess1.forward(s1)];
    for (let node = 0; node < STEPS; node++) {
      const h = [0, 1].map((j) => {
        const k = 2 * node + j;
        const op = this.ops[k]!;
        const out = op.forward(states[this.inputs[k]!]!);
        return this.training && dropProb > 0 && !(op instanceof Identity) ? dropPath(out, dropProb, seed()) : out;
      });
      states.push(add(h[0]!, h[1]!));
    }
    return concatChannels(states.slice(-MULTIPLIER));
  }
}

/** The reference's AuxiliaryHeadCIFAR: ReLU, AvgPool(5, 3), 1×1 conv → 128, BN, ReLU, 2×2 conv → 768, BN, ReLU, Linear. */
class AuxiliaryHead extends Module {
  readonly features: Sequential;
  readonly classifier: Linear;
  constructor(be: Backend, rng: EngineRng, C: number, numClasses: number) {
    super();
    this.features = this.child('features', new Sequential(
      new Lambda(relu, 'ReLU'),
      new Lambda((x) => avgPool2d(x, { kernel: 5, stride: 3, padding: 0, countIncludePad: false }), 'AvgPool2d'),
      new Conv2d(be, rng, C, 128, 1),
      new BatchNorm2d(be, 128),
      new Lambda(relu, 'ReLU'),
      new Conv2d(be, rng, 128, 768, 2),
      new BatchNorm2d(be, 768),
      new Lambda(relu, 'ReLU'),
    ));
    this.classifier = this.child('classifier', new Linear(be, rng, 768, numClasses));
  }
  forward(x: Tensor): Tensor {
    const f = this.features.forward(x);
    return this.classifier.forward(f.reshape([f.shape[0]!, f.size / f.shape[0]!]));
  }
}

export class DartsNetwork extends Module implements SpaceNetwork {
  readonly config: Readonly<NetworkBuildOptions>;
  readonly text: DartsGenotypeText;
  readonly stem: Sequential;
  readonly cells: ModuleContainer<EvalCell>;
  readonly auxiliaryHead: AuxiliaryHead | null;
  readonly classifier: Linear;
  /** drop-path probability of the cells' ops while training (the protocol raises it linearly to 0.2) */
  dropPathProb = 0;
  private readonly auxAfter: number;
  private dropSeed = 0;

  constructor(readonly backend: Backend, rng: EngineRng, config: DartsNetworkConfig) {
    super();
    checkDartsSizes('DartsNetwork', config);
    this.text = decodeGenotype(config.genotype, config.ops);
    const { C, N, inputChannels, numClasses } = config;
    this.config = Object.freeze({ C, N, inputChannels, numClasses, genotype: [...config.genotype] as Genotype });
    const Cstem = STEM_MULTIPLIER * C;
    this.stem = this.child('stem', new Sequential(new Conv2d(backend, rng, inputChannels, Cstem, 3, { padding: 1 }), new BatchNorm2d(backend, Cstem)));
    this.cells = this.child('cells', new ModuleContainer<EvalCell>());
    const red = reductionLayers(N);
    this.auxAfter = red[1];
    let Cpp = Cstem, Cp = Cstem, Ccur = C, reductionPrev = false, Caux = 0;
    for (let i = 0; i < N; i++) {
      const reduction = red.includes(i);
      if (reduction) Ccur *= 2;
      this.cells.add(String(i), new EvalCell(backend, rng, reduction ? this.text.reduce : this.text.normal, Cpp, Cp, Ccur, reduction, reductionPrev));
      reductionPrev = reduction;
      Cpp = Cp;
      Cp = MULTIPLIER * Ccur;
      if (i === this.auxAfter) Caux = Cp;
    }
    this.auxiliaryHead = config.auxiliary ? this.child('auxiliary_head', new AuxiliaryHead(backend, rng, Caux, numClasses)) : null;
    this.classifier = this.child('classifier', new Linear(backend, rng, Cp, numClasses));
  }

  get genotypeString(): string { return formatGenotypeText(this.text); }

  /** Seed of the next drop-path mask (the masks of a seeded run repeat with the seed). */
  setDropPathSeed(seed: number): void { this.dropSeed = seed >>> 0; }

  /** Logits and, while training with an auxiliary head, the auxiliary logits. */
  forwardTrain(x: Tensor): { logits: Tensor; aux: Tensor | null } {
    checkDartsInput('DartsNetwork.forward', x, this.config.inputChannels);
    const seed = (): number => { this.dropSeed = (Math.imul(this.dropSeed, 1664525) + 1013904223) >>> 0; return this.dropSeed; };
    let s0 = this.stem.forward(x);
    let s1 = s0;
    let aux: Tensor | null = null;
    this.cells.items.forEach((cell, i) => {
      const next = cell.forward(s0, s1, this.dropPathProb, seed);
      s0 = s1;
      s1 = next;
      if (i === this.auxAfter && this.auxiliaryHead && this.training) aux = this.auxiliaryHead.forward(s1);
    });
    return { logits: this.classifier.forward(globalAvgPool(s1)), aux };
  }

  forward(x: Tensor): Tensor { return this.forwardTrain(x).logits; }
}
