// The MobileNet space through the SearchSpace interface (src/spaces/mobilenet/space.ts), reached via
// getSpace('mobilenet'): decisions and ragged masks against the stage table, mask and genotype text
// round trips, derive against a brute argmax, a mixed supernet forward/backward whose op-weight
// gradient is checked by central differences, the derived single path in the supernet against the
// stand-alone network with the same weights (identical logits), and both checkpoint formats.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, crossEntropy, backward, noGrad } from '../../src/engine/index.js';
import { getSpace, SPACE_NAMES } from '../../src/spaces/registry.js';
import { assertClose } from '../helpers/backends.js';
import { scaledValues } from '../search/nb201-recipe.js';

const be = new CpuBackend();
const space = getSpace('mobilenet');
// blocks without an identity shortcut: the first block of every stage (stride 2, or 80 → 96 channels
// for stage 4) and the single block of stage 6 (192 → 320)
const NO_SHORTCUT = [0, 4, 8, 12, 16, 20];
const GOLDEN_GENOTYPE = '3x3_MBConv3,5x5_MBConv6,zero,7x7_MBConv3,7x7_MBConv6,3x3_MBConv6,5x5_MBConv3,zero,5x5_MBConv6,zero,' +
  '3x3_MBConv3,7x7_MBConv3,3x3_MBConv6,5x5_MBConv3,zero,7x7_MBConv6,5x5_MBConv6,3x3_MBConv3,zero,7x7_MBConv3,7x7_MBConv6';
// C = 32·width_mult: C = 4 is width 0.125 (8 channels where make_divisible floors); tiny images
const SIZES = { C: 4, N: 1, inputChannels: 3, numClasses: 3 };
const R = 8, BATCH = 2;

function batch(seed: string): { x: Tensor; y: Tensor } {
  return {
    x: Tensor.fromArray(be, scaledValues(seed, BATCH * 3 * R * R, 2), [BATCH, 3, R, R]),
    y: Tensor.fromArray(be, Array.from({ length: BATCH }, (_, i) => i % SIZES.numClasses), [BATCH]),
  };
}

test('registered; 21 decisions with zero only on shortcut blocks; split rules', () => {
  assert.ok(SPACE_NAMES.includes('mobilenet'));
  assert.is(space.rows, 21);
  assert.is(space.cols, 7);
  space.decisions.forEach((d, i) => {
    assert.is(d.index, i);
    assert.is(d.ops.length, NO_SHORTCUT.includes(i) ? 6 : 7, `block ${i}`);
    assert.is(d.ops.includes('zero'), !NO_SHORTCUT.includes(i));
    assert.is(d.ops[0], '3x3_MBConv3');
  });
  assert.equal(space.decisions.map((d) => d.group), [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6].map((s) => `stage${s}`));
  assert.equal(space.split.groupSizes(7, 2), [[3, 4]]);
  assert.equal(space.split.groupSizes(6, 2), [[3, 3]]);
  assert.equal(space.split.groupSizes(7, 3), [[2, 2, 3]]);
  assert.equal(space.split.groupSizes(6, 3), [[2, 2, 2]]);
  assert.is(space.split.edgeCriterion, 'min-intra');
});

test('masks: text round trip, ragged rows, restrict, counts, errors', () => {
  const full = space.fullMask();
  space.assertMask(full);
  const text = space.maskToString(full);
  assert.equal(text.split('/').map((g) => g.length), space.decisions.map((d) => d.ops.length));
  assert.equal(space.parseMask(text), full);
  assert.is(space.countAdmitted(full), 7 ** 15 * 6 ** 6);
  assert.equal(space.unsplit(full), Array.from({ length: 21 }, (_, i) => i));
  const m1 = space.restrictMask(full, 5, [0, 3, 6]);
  const m2 = space.restrictMask(m1, 0, [1, 2]);
  assert.equal(space.parseMask(space.maskToString(m2)), m2);
  assert.equal(space.enabledOps(m2, 5), [0, 3, 6]);
  assert.equal(space.enabledOps(m2, 0), [1, 2]);
  assert.is(space.countAdmitted(m2), 7 ** 14 * 6 ** 5 * 3 * 2);
  assert.equal(space.unsplit(m2), Array.from({ length: 21 }, (_, i) => i).filter((i) => i !== 0 && i !== 5));
  // the padding column of a shortcut-less block can never be enabled
  const bad = full.slice(); bad[0 * 7 + 6] = 1;
  assert.throws(() => space.assertMask(bad), /block 0 enables zero/);
  assert.throws(() => space.parseMask(text.replace(/^111111\//, '1111111/')), /group 1 .* exactly 6 digits/);
  assert.throws(() => space.restrictMask(full, 0, [6]), /leaves it no op/);
});

test('genotypes: text round trip, derive = brute argmax under a mask, single paths respect the mask', () => {
  const g = space.parseGenotype(GOLDEN_GENOTYPE);
  assert.is(g.length, 21);
  assert.is(g[2], 6);
  assert.is(space.formatGenotype(g), GOLDEN_GENOTYPE);
  assert.throws(() => space.parseGenotype(GOLDEN_GENOTYPE.replace(/^3x3_MBConv3/, 'zero')), /block 0 is 'zero'/);
  assert.throws(() => space.formatGenotype(g.map((o, d) => (d === 3 ? -1 : o))), /block 3/);
  const rng = new Rng(11);
  let mask = space.restrictMask(space.fullMask(), 7, [2, 6]);
  mask = space.restrictMask(mask, 12, [4, 5]);
  for (let t = 0; t < 5; t++) {
    const alpha = Array.from({ length: 21 * 7 }, () => rng.normal());
    const got = space.derive(alpha, mask);
    const want = space.decisions.map((d) => {
      let best = -1, bestV = -Infinity;
      for (let j = 0; j < d.ops.length; j++) if (mask[d.index * 7 + j] && alpha[d.index * 7 + j] > bestV) { best = j; bestV = alpha[d.index * 7 + j]; }
      return best;
    });
    assert.equal(got, want);
    assert.ok(space.maskAdmits(mask, got));
    const p = space.sampleSinglePath(rng, mask);
    assert.ok(space.isValidSinglePath(p) && space.maskAdmits(mask, p));
    assert.equal(space.parseGenotype(space.formatGenotype(p)), p);
  }
});

test('mixed supernet forward/backward: op-weight gradient = central difference of the loss', async () => {
  const mask = space.restrictMask(space.restrictMask(space.fullMask(), 1, [0, 5, 6]), 20, [2, 3]);
  const sn = space.buildSupernet(be, new Rng(5), { ...SIZES, trackCellStats: true, mask });
  const { x, y } = batch('mixed');
  const wValues = Float32Array.from({ length: 21 * 7 }, (_, i) => 0.2 + 0.6 * ((i * 37) % 11) / 11);
  const weights = Tensor.fromArray(be, wValues, [21, 7]).param('op weights');
  const step = () => tidy(() => { const l = crossEntropy(sn.forward(x, space.mixedSample(mask, weights)), y); backward(l); return l; });
  // train mode (batch statistics): gradients reach the shared weights and the running op weights
  const trainLoss = step();
  assert.ok(Number.isFinite((await trainLoss.data())[0]));
  assert.ok((await sn.sharedParameters(-1)[0].grad!.data()).some((v) => v !== 0));
  assert.ok((await weights.grad!.data()).some((v) => v !== 0));
  for (const p of [...sn.parameters(), weights]) { p.grad?.dispose(); p.grad = null; }
  trainLoss.dispose();
  // eval mode for the finite differences: with batch statistics over 2 images at 1×1 spatial size,
  // 21 stacked BNs make the loss far too steep for a float32 central difference
  sn.eval();
  const loss = step();
  const grad = await weights.grad!.data();
  assert.is(grad[20 * 7 + 0], 0, 'a masked op gets no weight gradient');
  const lossAt = async (w: Float32Array) => {
    const t = Tensor.fromArray(be, w, [21, 7]);
    const v = (await tidy(() => noGrad(() => crossEntropy(sn.forward(x, space.mixedSample(mask, t)), y))).data())[0];
    t.dispose();
    return v;
  };
  for (const [d, j] of [[1, 5], [3, 2], [20, 3]]) {
    const eps = 1e-2, i = d * 7 + j;
    const plus = wValues.slice(); plus[i] += eps;
    const minus = wValues.slice(); minus[i] -= eps;
    const fd = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
    assert.ok(Math.abs(fd - grad[i]) <= 2e-3 + 0.05 * Math.abs(fd), `block ${d} op ${j}: autograd ${grad[i]} vs central difference ${fd}`);
  }
  // θ_o of GM: the scored block runs one op at weight exactly 1, the others keep theirs
  const replaced = space.replaceDecisionOp(space.mixedSample(mask, weights), 3, 4);
  assert.equal(replaced.ops[3], [4]);
  const rw = await replaced.weights!.data();
  assert.equal(Array.from(rw.slice(3 * 7, 4 * 7)), [0, 0, 0, 0, 1, 0, 0]);
  assert.is(rw[5 * 7 + 2], wValues[5 * 7 + 2]);
  // shared parameters for block 3 leave out exactly its candidates
  const all = sn.sharedParameters(-1), shared = new Set(sn.sharedParameters(3));
  const left = all.filter((p) => !shared.has(p));
  const blockParams = new Set(sn.namedParameters().filter(([n]) => n.startsWith('blocks.4.')).map(([, p]) => p));
  assert.ok(left.length > 0 && left.length === blockParams.size && left.every((p) => blockParams.has(p)));
  // a sample running an op the mask removed is refused, naming the block and op
  assert.throws(() => sn.forward(x, { ops: Array.from({ length: 21 }, () => [5]), weights: null }), /block 20 runs op 7x7_MBConv6/);
  loss.dispose(); weights.grad?.dispose(); weights.dispose(); sn.dispose();
});

test('derived single path in the supernet = stand-alone network with the same weights; checkpoints', async () => {
  const mask = space.restrictMask(space.restrictMask(space.fullMask(), 2, [4, 5, 6]), 9, [6]);
  const sn = space.buildSupernet(be, new Rng(6), { ...SIZES, trackCellStats: true, mask });
  const rng = new Rng(7);
  const g = space.derive(Array.from({ length: 21 * 7 }, () => rng.normal()), mask);
  assert.is(g[9], 6, 'a block whose mask keeps only zero derives zero');
  const net = space.buildNetwork(be, new Rng(8), { ...SIZES, genotype: g });
  assert.equal(net.config.genotype, g);
  const src = new Map(sn.stateDict());
  for (const [name, t] of net.stateDict()) {
    const m = /^blocks\.(\d+)\.mobile_inverted_conv\.(.*)$/.exec(name);
    const from = m && m[1] !== '0' ? `blocks.${m[1]}.mobile_inverted_conv.candidate_ops.${g[Number(m[1]) - 1]}.${m[2]}` : name;
    assert.ok(src.has(from), `supernet has no ${from}`);
    be.copy(src.get(from)!.storage, t.storage, t.size);
  }
  const { x } = batch('single');
  const a = await tidy(() => sn.forward(x, space.singlePathSample(g))).data();
  const b = await tidy(() => net.forward(x)).data();
  assertClose(a, b, 0, 0, 'train-mode logits');

  // supernet checkpoint: mask and weights come back, α rides along as an extra tensor
  const alpha = Float32Array.from({ length: 21 * 7 }, (_, i) => i / 100);
  const bytes = await space.encodeSupernet(sn, [{ name: 'alpha', shape: [21, 7], data: alpha }], { epoch: '3' });
  const back = space.decodeSupernet(be, new Rng(99), bytes, 'supernet.safetensors');
  assert.is(back.metadata.format, space.checkpointFormats.supernet);
  assert.is(back.metadata.epoch, '3');
  assert.equal(back.supernet.mask, mask);
  assert.equal(Array.from(back.extra.get('alpha')!.data as Float32Array), Array.from(alpha));
  assert.ok(back.supernet.stateDict().some(([n]) => n === 'blocks.3.mobile_inverted_conv.candidate_ops.6.depth_conv.conv.weight') === false);
  assert.ok(back.supernet.stateDict().some(([n]) => n === 'blocks.3.mobile_inverted_conv.candidate_ops.5.depth_conv.conv.weight'));
  const c = await tidy(() => back.supernet.forward(x, space.singlePathSample(g))).data();
  assertClose(c, a, 0, 0, 'reloaded supernet logits');

  // network checkpoint: ProxylessNASNets names, same logits after decoding
  const nbytes = await space.encodeNetwork(net, { resolution: String(R) });
  const { network, metadata } = space.decodeNetwork(be, new Rng(98), nbytes, 'net.safetensors');
  assert.is(metadata.genotype, space.formatGenotype(g));
  assert.equal(network.config.genotype, g);
  assert.equal(network.stateDict().map(([n]) => n), net.stateDict().map(([n]) => n));
  assertClose(await tidy(() => network.forward(x)).data(), b, 0, 0, 'reloaded network logits');
  const other = space.buildNetwork(be, new Rng(9), { ...SIZES, genotype: space.parseGenotype(GOLDEN_GENOTYPE) });
  assert.throws(() => space.loadNetworkInto(other, nbytes, 'net.safetensors'), /differs from the model's/);
  for (const m of [sn, net, back.supernet, network, other]) m.dispose();
});

test.run();
