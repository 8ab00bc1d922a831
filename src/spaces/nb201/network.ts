// The stand-alone NB201 network of one genotype: AutoDL-Projects' TinyNetwork with InferCell
// (`ADL:xautodl/models/cell_infers/tiny_network.py`, `cells.py`), affine BN with running statistics.
// Its state_dict names are PyTorch's, so a checkpoint loads into ADL's model with load_state_dict:
//   stem.0.weight, stem.1.{weight,bias,running_mean,running_var,num_batches_tracked}
//   cells.{k}.layers.{eid}.op.1.weight, cells.{k}.layers.{eid}.op.2.*   (conv ops of search cells)
//   cells.{k}.conv_a.op.{1,2}.*, cells.{k}.conv_b.op.{1,2}.*, cells.{k}.downsample.1.weight (k = N, 2N+1)
//   lastact.0.*, classifier.{weight,bias}
// InferCell builds one layer per genotype token, 'none' included (Zero, Identity and POOLING are
// parameter-free modules), in genotype order = eid order, so `layers.{i}` is the op on edge eid i.
// Node j sums layers[e](node[from(e)]) over its edges e — 'none' layers are skipped here since their
// output is exactly zero.
import { Tensor, Module, Linear, Sequential, addN } from '../../engine/index.js';
import type { Backend, Rng as EngineRng, Forward } from '../../engine/index.js';
import { NB201_EDGES, NUM_NODES, OP_NONE } from './ops.js';
import { assertGenotype, formatGenotype, type Genotype } from './genotype.js';
import {
  makeCellOp, makeStem, makeLastAct, headForward, macroLayout, checkMacroConfig, ResNetBasicblock, ModuleContainer,
  checkNetworkInput,
} from './cells.js';

export interface NetworkConfig {
  genotype: Genotype;
  /** 16 in NB201 */
  C: number;
  /** 5 in NB201 */
  N: number;
  inputChannels: number;
  numClasses: number;
}

/** ADL's InferCell: `layers` = ModuleList of one op per edge (eid order), affine BN. */
export class InferCell extends Module {
  readonly layers: Forward[] = [];
  constructor(be: Backend, rng: EngineRng, readonly genotype: Genotype, readonly channels: number) {
    super();
    const list = this.child('layers', new ModuleContainer<Forward>());
    genotype.forEach((op, eid) => {
      this.layers.push(list.add(String(eid), makeCellOp(be, rng, op, channels, { affine: true, trackRunningStats: true })));
    });
  }
  forward(x: Tensor): Tensor {
    const nodes: Tensor[] = [x];
    for (let to = 1; to < NUM_NODES; to++) {
      const terms: Tensor[] = [];
      for (const edge of NB201_EDGES) {
        if (edge.to === to && this.genotype[edge.eid] !== OP_NONE) terms.push(this.layers[edge.eid].forward(nodes[edge.from]));
      }
      nodes.push(terms.length ? addN(terms) : Tensor.zeros(x.backend, x.shape));
    }
    return nodes[NUM_NODES - 1];
  }
}

export class Nb201Network extends Module {
  readonly config: Readonly<NetworkConfig>;
  readonly stem: Sequential;
  readonly cells: ModuleContainer;
  readonly lastact: Sequential;
  readonly classifier: Linear;
  private readonly sequence: (InferCell | ResNetBasicblock)[] = [];

  constructor(readonly backend: Backend, rng: EngineRng, config: NetworkConfig) {
    super();
    checkMacroConfig('Nb201Network', config);
    assertGenotype(config.genotype, 'Nb201Network genotype');
    this.config = Object.freeze({ ...config, genotype: [...config.genotype] });
    const { C, N, inputChannels, numClasses, genotype } = config;
    this.stem = this.child('stem', makeStem(backend, rng, inputChannels, C));
    this.cells = this.child('cells', new ModuleContainer());
    let prev = C;
    macroLayout(C, N).forEach(({ channels, reduction }, k) => {
      const cell = reduction
        ? new ResNetBasicblock(backend, rng, prev, channels)
        : new InferCell(backend, rng, genotype, channels);
      this.sequence.push(this.cells.add(String(k), cell));
      prev = channels;
    });
    this.lastact = this.child('lastact', makeLastAct(backend, prev));
    this.classifier = this.child('classifier', new Linear(backend, rng, prev, numClasses));
  }

  get genotypeString(): string { return formatGenotype(this.config.genotype); }

  /** Logits [N, numClasses] for images [N, inputChannels, H, W]. */
  forward(x: Tensor): Tensor {
    checkNetworkInput('Nb201Network.forward', x, this.config.inputChannels);
    let h = this.stem.forward(x);
    for (const cell of this.sequence) h = cell.forward(h);
    return headForward(this.lastact, this.classifier, h);
  }
}
