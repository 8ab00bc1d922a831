// The MobileNet supernet: the stand-alone skeleton (network.ts) with every candidate op in each of the
// 21 searchable blocks, named as ProxylessNAS's SuperProxylessNASNets names them
// (blocks.{i+1}.mobile_inverted_conv.candidate_ops.{j}.…, j in MOBILE_OPS order; `zero` holds no state,
// so its index has no entries). ProxylessNAS keeps α and the binary gates inside each MixedEdge as
// parameters; here α lives with the search method (proxyless.ts) and the gates are passed per forward.
//
// A forward runs, per block, what the caller picked (BlockPath):
//   { active }                       only that op (ProxylessNAS's weight step: one sampled path);
//   { active, inactive, gates }      gates[active]·op_a(x) + gates[inactive]·detach(op_b(x)), gates a
//                                    binary [n_ops] tensor with 1 at `active` (ProxylessNAS's 'two'
//                                    mode): the inactive path contributes 0 to the output and no weight
//                                    gradient, but its gate receives Σ dy·op_b(x), what the α estimate needs;
// with the identity shortcut added when the block has one. An active `zero` makes the block the
// identity (the shortcut alone) and its gates get no gradient. A `zero` as the inactive path adds
// nothing (its output is 0, so is its gate gradient).
import { Tensor } from '../../engine/tensor.js';
import type { Backend } from '../../engine/backend.js';
import type { Rng } from '../../engine/rng.js';
import { Module } from '../../engine/nn/module.js';
import { add, weightedSum } from '../../engine/ops/elementwise.js';
import { globalAvgPool } from '../../engine/ops/pool.js';
import { MOBILE_OPS, parseOp, ZERO_OP } from './ops.js';
import { ConvBn, MbConvLayer, MobileBlock, ModuleList, LinearLayer } from './network.js';
import { macroLayout, checkSize, type MobileNetSize, type BlockLayout } from './layout.js';

/** The op indices (into MOBILE_OPS) a block may take: the six MBConvs, plus `zero` with a shortcut. */
export function blockChoices(b: BlockLayout): number[] {
  return MOBILE_OPS.map((_, j) => j).filter((j) => b.identity || MOBILE_OPS[j] !== ZERO_OP);
}

export interface BlockPath {
  /** op index into MOBILE_OPS */
  active: number;
  inactive?: number;
  /** binary gates: gates[gateOffset + j] for op index j of this block (one flat tensor serves all
   *  blocks, so the search reads every gate gradient back at once) */
  gates?: Tensor;
  gateOffset?: number;
}

/** One searchable block with all its candidates (ProxylessNAS's MixedEdge inside a residual block). */
export class MixedBlock extends Module {
  /** candidate j = MOBILE_OPS[j]; null for `zero` */
  readonly candidates: (MbConvLayer | null)[];
  readonly choices: number[];
  constructor(be: Backend, rng: Rng, readonly layout: BlockLayout) {
    super();
    this.choices = blockChoices(layout);
    this.candidates = this.choices.map((j) => {
      const op = parseOp(MOBILE_OPS[j]);
      return op.kind === 'zero' ? null : new MbConvLayer(be, rng, layout.cin, layout.cout, op.kernel, layout.stride, op.expand);
    });
    // ProxylessNAS's indices: candidate_ops.{j}, j the op's position among the block's choices (= its
    // MOBILE_OPS index, `zero` being last)
    this.child('mobile_inverted_conv', new CandidateOps(this.candidates));
  }
  forward(x: Tensor, path: BlockPath): Tensor {
    const { active, inactive, gates } = path;
    const off = path.gateOffset ?? 0;
    for (const j of [active, ...(inactive === undefined ? [] : [inactive])]) {
      if (!this.choices.includes(j)) throw new Error(`block ${this.layout.index}: op ${MOBILE_OPS[j] ?? j} is not a candidate here`);
    }
    const opA = this.candidates[this.choices.indexOf(active)];
    if (!opA) return x; // active zero: the shortcut alone (ProxylessNAS's is_zero_layer path)
    let y: Tensor;
    if (inactive === undefined) {
      y = opA.forward(x);
    } else {
      if (!gates || gates.size < off + this.choices.length) throw new Error(`block ${this.layout.index}: 'two'-path forward needs ${this.choices.length} gates from offset ${off}`);
      const opB = this.candidates[this.choices.indexOf(inactive)];
      y = opB ? weightedSum([opA.forward(x), opB.forward(x).detach()], gates, [off + active, off + inactive])
        : weightedSum([opA.forward(x)], gates, [off + active]);
    }
    return this.layout.identity ? add(y, x) : y;
  }
  /**
   * The SearchSpace's mixed forward: Σ_j weights[offset + j]·op_j(x) over `ops` (op indices, distinct),
   * plus the shortcut; with `weights` null, `ops` must be one op (a single path, unit weight). `zero`
   * adds nothing (its output is 0), so a block running only `zero` is the identity.
   */
  forwardOps(x: Tensor, ops: readonly number[], weights: Tensor | null, offset: number): Tensor {
    if (ops.length === 0) throw new Error(`block ${this.layout.index}: no op to run`);
    for (const j of ops) {
      if (!this.choices.includes(j)) throw new Error(`block ${this.layout.index}: op ${MOBILE_OPS[j] ?? j} is not a candidate here`);
    }
    if (!weights && ops.length > 1) throw new Error(`block ${this.layout.index}: ${ops.length} ops need a weights tensor`);
    const running = ops.filter((j) => this.candidates[this.choices.indexOf(j)] !== null);
    if (running.length === 0) return x; // only `zero`: the shortcut alone (only blocks with one have `zero`)
    const outs = running.map((j) => this.candidates[this.choices.indexOf(j)]!.forward(x));
    const y = weights ? weightedSum(outs, weights, running.map((j) => offset + j)) : outs[0];
    return this.layout.identity ? add(y, x) : y;
  }
}

/** `mobile_inverted_conv` of a mixed block: child `candidate_ops` whose entries are numbered by choice. */
class CandidateOps extends Module {
  constructor(candidates: (MbConvLayer | null)[]) {
    super();
    this.child('candidate_ops', new IndexedList(candidates));
  }
}

/** Children named by their index, skipping the null entries (torch keeps ZeroLayer, which has no state). */
class IndexedList extends Module {
  constructor(items: (Module | null)[]) {
    super();
    items.forEach((m, i) => { if (m) this.child(String(i), m); });
  }
}

export type SupernetConfig = MobileNetSize;

export class MobileNetSupernet extends Module {
  readonly firstConv: ConvBn;
  readonly firstBlock: MobileBlock;
  readonly blocks: MixedBlock[];
  /** the `blocks` child: the fixed first block, then the mixed ones */
  readonly blockList: ModuleList<Module>;
  readonly featureMix: ConvBn;
  readonly classifier: LinearLayer;
  constructor(be: Backend, rng: Rng, readonly config: SupernetConfig) {
    super();
    checkSize(config);
    const L = macroLayout(config.widthMult);
    this.firstConv = this.child('first_conv', new ConvBn(be, rng, config.inputChannels, L.firstConv, 3, 2, true));
    const first: BlockLayout = { index: -1, stage: -1, cin: L.firstConv, cout: L.firstBlock, stride: 1, identity: false };
    this.firstBlock = new MobileBlock(be, rng, first, { kind: 'mbconv1' });
    this.blocks = L.blocks.map((b) => new MixedBlock(be, rng, b));
    this.blockList = this.child('blocks', new ModuleList<Module>([this.firstBlock, ...this.blocks]));
    this.featureMix = this.child('feature_mix_layer', new ConvBn(be, rng, L.blocks[L.blocks.length - 1].cout, L.featureMix, 1, 1, true));
    this.classifier = this.child('classifier', new LinearLayer(be, rng, L.featureMix, config.numClasses));
  }
  /** Logits of x with one BlockPath per searchable block. */
  forward(x: Tensor, paths: readonly BlockPath[]): Tensor {
    if (paths.length !== this.blocks.length) throw new Error(`MobileNet supernet: ${paths.length} block paths, expected ${this.blocks.length}`);
    let h = this.firstBlock.forward(this.firstConv.forward(x));
    this.blocks.forEach((b, i) => { h = b.forward(h, paths[i]); });
    return this.classifier.forward(globalAvgPool(this.featureMix.forward(h)));
  }
}
