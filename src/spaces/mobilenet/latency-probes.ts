// What a latency lookup table times in the MobileNet space (SearchSpace.latencyProbes; the timing
// itself is src/nas/latency-table.ts): the stem (first conv + the fixed MBConv1 block), the head
// (feature-mix 1×1, global pooling, classifier) and every candidate MBConv of every searchable block at
// its input shape (batch 1), its residual add included where the block has a shortcut, so that the
// network's latency ≈ Σ fixed + Σ_d op(d) — ProxylessNAS's lookup-table model. `zero` costs nothing
// (the block is its shortcut). The modules are one supernet's, in eval mode (BN folded as in deployment
// is not modelled: the engine runs BN as its own pass either way).
import type { Backend } from '../../engine/backend.js';
import type { Tensor } from '../../engine/tensor.js';
import { Rng } from '../../engine/rng.js';
import { add } from '../../engine/ops/elementwise.js';
import { globalAvgPool } from '../../engine/ops/pool.js';
import type { LatencyProbe, LatencyProbes, SpaceSizes } from '../space.js';
import { MobileNetSupernet } from './supernet.js';
import { macroLayout, convOut, checkResolution } from './layout.js';
import { MOBILE_OPS } from './ops.js';
import { widthMultOf } from './space-modules.js';

export function mobileLatencyProbes(be: Backend, sizes: SpaceSizes, resolution: number): LatencyProbes {
  checkResolution(resolution);
  const widthMult = widthMultOf(sizes.C);
  const L = macroLayout(widthMult);
  const net = new MobileNetSupernet(be, new Rng(1), { widthMult, inputChannels: sizes.inputChannels, numClasses: sizes.numClasses });
  net.eval();
  let h = convOut(resolution, 3, 2);
  const fixed: LatencyProbe[] = [{
    key: `stem ${sizes.inputChannels}x${resolution}x${resolution}→${L.firstBlock}`,
    inputShape: [1, sizes.inputChannels, resolution, resolution],
    run: (x: Tensor) => net.firstBlock.forward(net.firstConv.forward(x)),
  }];
  const ops = net.blocks.map((block) => {
    const b = block.layout;
    const hin = h;
    h = convOut(h, 3, b.stride);
    return MOBILE_OPS.map((name, j): LatencyProbe | 0 | null => {
      const at = block.choices.indexOf(j);
      if (at < 0) return null;
      const op = block.candidates[at];
      if (!op) return 0;
      return {
        key: `block:${b.index} ${name} ${b.cin}x${hin}x${hin}→${b.cout} s${b.stride}${b.identity ? ' +shortcut' : ''}`,
        inputShape: [1, b.cin, hin, hin],
        run: (x: Tensor) => (b.identity ? add(op.forward(x), x) : op.forward(x)),
      };
    });
  });
  const last = L.blocks[L.blocks.length - 1].cout;
  fixed.push({
    key: `head ${last}x${h}x${h}→${L.featureMix}→${sizes.numClasses}`,
    inputShape: [1, last, h, h],
    run: (x: Tensor) => net.classifier.forward(globalAvgPool(net.featureMix.forward(x))),
  });
  return { fixed, ops, dispose: () => net.dispose() };
}
