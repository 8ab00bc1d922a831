// The stand-alone MobileNet of a genotype, module for module ProxylessNAS's ProxylessNASNets so that its
// state_dict names are PyTorch's (checked against test/goldens/mobilenet-state-dict-keys.json):
//   first_conv.{conv,bn,act}                      3×3 stride 2 conv → BN → ReLU6
//   blocks.0.mobile_inverted_conv.…               the fixed MBConv1 block (no inverted_bottleneck)
//   blocks.{1..21}.mobile_inverted_conv.{inverted_bottleneck,depth_conv,point_linear}.{conv,bn}
//                                                 one per searchable block; nothing for `zero`
//   feature_mix_layer.{conv,bn,act}               1×1 conv → BN → ReLU6
//   classifier.linear.{weight,bias}               after global average pooling
// The identity shortcuts and the ReLU6 activations hold no state. BN: eps 1e-3, momentum 0.1.
import { Tensor } from '../../engine/tensor.js';
import type { Backend } from '../../engine/backend.js';
import type { Rng } from '../../engine/rng.js';
import { Module } from '../../engine/nn/module.js';
import { Conv2d, BatchNorm2d, Linear } from '../../engine/nn/layers.js';
import { relu6, add } from '../../engine/ops/elementwise.js';
import { globalAvgPool } from '../../engine/ops/pool.js';
import type { MobileOp } from './ops.js';
import { assertGenotype, type MobileGenotype } from './genotype.js';
import { macroLayout, checkSize, BN_EPS, BN_MOMENTUM, type MobileNetSize, type BlockLayout } from './layout.js';

/** conv (no bias, padding k//2) → BN → ReLU6 when `act`, as ProxylessNAS's ConvLayer and the
 *  Sequentials of MBInvertedConvLayer (children conv, bn; the activation holds no state). */
export class ConvBn extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(be: Backend, rng: Rng, cin: number, cout: number, kernel: number, stride: number,
    readonly act: boolean, depthwise = false) {
    super();
    this.conv = this.child('conv', new Conv2d(be, rng, cin, cout, kernel, {
      stride, padding: Math.floor(kernel / 2), groups: depthwise ? cin : 1,
    }));
    this.bn = this.child('bn', new BatchNorm2d(be, cout, { eps: BN_EPS, momentum: BN_MOMENTUM }));
  }
  forward(x: Tensor): Tensor {
    const y = this.bn.forward(this.conv.forward(x));
    return this.act ? relu6(y) : y;
  }
}

/** 1×1 expand (absent at expansion 1) → k×k depthwise (the stride) → 1×1 linear projection. */
export class MbConvLayer extends Module {
  readonly invertedBottleneck: ConvBn | null;
  readonly depthConv: ConvBn;
  readonly pointLinear: ConvBn;
  readonly mid: number;
  constructor(be: Backend, rng: Rng, cin: number, cout: number, readonly kernel: number, stride: number, readonly expand: number) {
    super();
    this.mid = Math.round(cin * expand);
    this.invertedBottleneck = expand === 1 ? null : this.child('inverted_bottleneck', new ConvBn(be, rng, cin, this.mid, 1, 1, true));
    this.depthConv = this.child('depth_conv', new ConvBn(be, rng, this.mid, this.mid, kernel, stride, true, true));
    this.pointLinear = this.child('point_linear', new ConvBn(be, rng, this.mid, cout, 1, 1, false));
  }
  forward(x: Tensor): Tensor {
    const h = this.invertedBottleneck ? this.invertedBottleneck.forward(x) : x;
    return this.pointLinear.forward(this.depthConv.forward(h));
  }
}

/** ProxylessNAS's MobileInvertedResidualBlock: op(x) (+ x with an identity shortcut); `zero` → x. */
export class MobileBlock extends Module {
  readonly op: MbConvLayer | null;
  constructor(be: Backend, rng: Rng, readonly layout: BlockLayout, readonly choice: MobileOp | { kind: 'mbconv1' }) {
    super();
    if (choice.kind === 'zero') {
      if (!layout.identity) throw new Error(`block ${layout.index}: 'zero' needs an identity shortcut`);
      this.op = null;
    } else {
      const [k, e] = choice.kind === 'mbconv1' ? [3, 1] : [choice.kernel, choice.expand];
      this.op = this.child('mobile_inverted_conv', new MbConvLayer(be, rng, layout.cin, layout.cout, k, layout.stride, e));
    }
  }
  forward(x: Tensor): Tensor {
    if (!this.op) return x;
    const y = this.op.forward(x);
    return this.layout.identity ? add(y, x) : y;
  }
}

/** Children '0', '1', … without a forward of its own (torch.nn.ModuleList). */
export class ModuleList<M extends Module> extends Module {
  constructor(readonly items: M[]) {
    super();
    items.forEach((m, i) => this.child(String(i), m));
  }
}

/** ProxylessNAS's LinearLayer without dropout: child `linear`. */
export class LinearLayer extends Module {
  readonly linear: Linear;
  constructor(be: Backend, rng: Rng, inFeatures: number, outFeatures: number) {
    super();
    this.linear = this.child('linear', new Linear(be, rng, inFeatures, outFeatures));
  }
  forward(x: Tensor): Tensor { return this.linear.forward(x); }
}

export interface MobileNetConfig extends MobileNetSize { genotype: MobileGenotype }

export class MobileNetNetwork extends Module {
  readonly firstConv: ConvBn;
  readonly blocks: ModuleList<MobileBlock>;
  readonly featureMix: ConvBn;
  readonly classifier: LinearLayer;
  constructor(be: Backend, rng: Rng, readonly config: MobileNetConfig) {
    super();
    checkSize(config);
    assertGenotype(config.genotype);
    const L = macroLayout(config.widthMult);
    this.firstConv = this.child('first_conv', new ConvBn(be, rng, config.inputChannels, L.firstConv, 3, 2, true));
    const first: BlockLayout = { index: -1, stage: -1, cin: L.firstConv, cout: L.firstBlock, stride: 1, identity: false };
    const blocks = [new MobileBlock(be, rng, first, { kind: 'mbconv1' })];
    for (const b of L.blocks) blocks.push(new MobileBlock(be, rng, b, config.genotype[b.index]));
    this.blocks = this.child('blocks', new ModuleList(blocks));
    const last = L.blocks[L.blocks.length - 1].cout;
    this.featureMix = this.child('feature_mix_layer', new ConvBn(be, rng, last, L.featureMix, 1, 1, true));
    this.classifier = this.child('classifier', new LinearLayer(be, rng, L.featureMix, config.numClasses));
  }
  /** [N, inputChannels, R, R] → logits [N, numClasses] */
  forward(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[1] !== this.config.inputChannels) {
      throw new Error(`MobileNet: input [${x.shape.join(', ')}] must be [N, ${this.config.inputChannels}, H, W]`);
    }
    let h = this.firstConv.forward(x);
    for (const b of this.blocks.items) h = b.forward(h);
    h = this.featureMix.forward(h);
    return this.classifier.forward(globalAvgPool(h));
  }
}
