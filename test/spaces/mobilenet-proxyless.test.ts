// ProxylessNAS binary gates on the MobileNet supernet (src/spaces/mobilenet/proxyless.ts, supernet.ts):
// the α estimate against finite differences of Σ_j q_j(α)·G_j, the rescaling invariant, the sampler's
// pair frequencies against exact probabilities, the supernet's single-path forward against the
// stand-alone network with the same weights, the inactive path's gate gradient against a central
// finite difference of the loss, and one architecture step's Adam(β1 = 0) update size and determinism.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, crossEntropy, SGD, backward } from '../../src/engine/index.js';
import { MobileNetSupernet, type BlockPath } from '../../src/spaces/mobilenet/supernet.js';
import { MobileNetNetwork } from '../../src/spaces/mobilenet/network.js';
import { parseOp, MOBILE_OPS } from '../../src/spaces/mobilenet/ops.js';
import {
  binaryGateAlphaGrad, rescaleInvolved, sampleTwo, softmax, ProxylessSearch, PROXYLESS_ARCH_LR,
  sampleIndex, sampleUniformPaths, maskedSoftmax,
} from '../../src/spaces/mobilenet/proxyless.js';
import { moduleStateKeys } from '../../src/engine/index.js';
import { assertClose } from '../helpers/backends.js';
import { scaledValues } from '../search/nb201-recipe.js';

const be = new CpuBackend();
const SIZE = { widthMult: 0.25, inputChannels: 3, numClasses: 4 };
const R = 32, BATCH = 4;

function batch(seed: string): { x: Tensor; y: Tensor } {
  return {
    x: Tensor.fromArray(be, scaledValues(seed, BATCH * 3 * R * R, 2), [BATCH, 3, R, R]),
    y: Tensor.fromArray(be, Array.from({ length: BATCH }, (_, i) => i % SIZE.numClasses), [BATCH]),
  };
}

test('α estimate = gradient of Σ_j q_j(α)·G_j over the two sampled ops (central differences)', () => {
  const rng = new Rng(3);
  for (let t = 0; t < 20; t++) {
    const n = t % 2 ? 7 : 6;
    const alpha = Array.from({ length: n }, () => rng.normal());
    const [a, b] = sampleTwo(softmax(alpha), rng);
    const G: [number, number] = [rng.normal(), rng.normal()];
    const f = (v: number[]) => { const q = softmax([v[a], v[b]]); return q[0] * G[0] + q[1] * G[1]; };
    const grad = binaryGateAlphaGrad(alpha, [a, b], G);
    for (let i = 0; i < n; i++) {
      const h = 1e-5, up = [...alpha], dn = [...alpha];
      up[i] += h; dn[i] -= h;
      assert.ok(Math.abs(grad[i] - (f(up) - f(dn)) / (2 * h)) < 1e-8, `trial ${t} α_${i}`);
    }
    assert.ok(Math.abs(grad[a] + grad[b]) < 1e-12); // the pair's gradients cancel: only their difference moves
  }
});

test('rescaling keeps Σ exp over the involved ops, and every other op probability', () => {
  const before = [0.1, -0.3, 0.5, 0.2, 0, -1, 0.7];
  const after = [...before];
  after[2] += 0.01; after[5] -= 0.004;
  const r = rescaleInvolved(after, [2, 5], before);
  const se = (v: number[], ix: number[]) => ix.reduce((s, i) => s + Math.exp(v[i]), 0);
  assert.ok(Math.abs(se(r, [2, 5]) - se(before, [2, 5])) < 1e-12);
  const pb = softmax(before), pr = softmax(r);
  for (const i of [0, 1, 3, 4, 6]) assert.ok(Math.abs(pb[i] - pr[i]) < 1e-12);
  assert.ok(Math.abs((r[2] - r[5]) - (after[2] - after[5])) < 1e-12);
});

test('two ops without replacement: pair frequencies match p_a·p_b/(1 − p_a)', () => {
  const p = [0.5, 0.3, 0.2];
  const rng = new Rng(11);
  const counts = new Map<string, number>();
  const N = 40000;
  for (let k = 0; k < N; k++) {
    const [a, b] = sampleTwo(p, rng);
    assert.is.not(a, b);
    counts.set(`${a}${b}`, (counts.get(`${a}${b}`) ?? 0) + 1);
  }
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      if (a === b) continue;
      const exact = p[a] * p[b] / (1 - p[a]);
      assert.ok(Math.abs((counts.get(`${a}${b}`) ?? 0) / N - exact) < 0.01, `pair ${a},${b}`);
    }
  }
});

test('supernet names follow SuperProxylessNASNets; single-path forward = stand-alone network with those weights', async () => {
  const sn = new MobileNetSupernet(be, new Rng(1), SIZE);
  const keys = moduleStateKeys(sn).map((k) => k.name);
  assert.ok(keys.includes('blocks.2.mobile_inverted_conv.candidate_ops.5.depth_conv.conv.weight'));
  assert.ok(!keys.some((k) => k.startsWith('blocks.2.mobile_inverted_conv.candidate_ops.6.')));
  assert.ok(!keys.some((k) => k.startsWith('blocks.1.mobile_inverted_conv.candidate_ops.6')));
  const names = ['3x3_MBConv3', '5x5_MBConv6', 'zero', '7x7_MBConv3', '7x7_MBConv6', '3x3_MBConv6', '5x5_MBConv3', 'zero',
    '5x5_MBConv6', 'zero', '3x3_MBConv3', '7x7_MBConv3', '3x3_MBConv6', '5x5_MBConv3', 'zero', '7x7_MBConv6',
    '5x5_MBConv6', '3x3_MBConv3', 'zero', '7x7_MBConv3', '7x7_MBConv6'];
  const paths: BlockPath[] = names.map((n) => ({ active: MOBILE_OPS.indexOf(n) }));
  const net = new MobileNetNetwork(be, new Rng(2), { ...SIZE, genotype: names.map(parseOp) });
  // copy the supernet's weights of the chosen ops into the network, mapping names
  const src = new Map(sn.stateDict());
  for (const [name, t] of net.stateDict()) {
    const m = /^blocks\.(\d+)\.mobile_inverted_conv\.(.*)$/.exec(name);
    const from = m && m[1] !== '0' ? `blocks.${m[1]}.mobile_inverted_conv.candidate_ops.${paths[Number(m[1]) - 1].active}.${m[2]}` : name;
    const s = src.get(from);
    assert.ok(s, `supernet has no ${from}`);
    be.copy(s!.storage, t.storage, t.size);
  }
  const { x } = batch('input');
  const a = await tidy(() => sn.forward(x, paths)).data();
  const b = await tidy(() => net.forward(x)).data();
  assertClose(a, b, 0, 0, 'train-mode logits');
  sn.dispose(); net.dispose();
});

test('inactive path: its gate gradient equals a central difference of the loss in that gate', async () => {
  const sn = new MobileNetSupernet(be, new Rng(4), SIZE);
  const { x, y } = batch('gates');
  const nBlocks = sn.blocks.length;
  const offsets: number[] = [];
  let off = 0;
  for (const b of sn.blocks) { offsets.push(off); off += b.choices.length; }
  // every block: active 3x3_MBConv6, inactive 7x7_MBConv3
  const makePaths = (gates: Tensor): BlockPath[] => Array.from({ length: nBlocks }, (_, i) => ({ active: 1, inactive: 4, gates, gateOffset: offsets[i] }));
  const values = (probe: number | null, eps: number) => {
    const v = new Float32Array(off);
    offsets.forEach((o) => { v[o + 1] = 1; });
    if (probe !== null) v[offsets[probe] + 4] = eps;
    return v;
  };
  const gates = Tensor.fromArray(be, values(null, 0), [off]).param('gates');
  const loss = tidy(() => { const l = crossEntropy(sn.forward(x, makePaths(gates)), y); backward(l); return l; });
  const g = await gates.grad!.data();
  const lossAt = async (probe: number, eps: number) => {
    const t = Tensor.fromArray(be, values(probe, eps), [off]);
    const l = await tidy(() => crossEntropy(sn.forward(x, makePaths(t)), y)).data();
    t.dispose();
    return l[0];
  };
  // the last two blocks only: a freshly initialised BN network in training mode is chaotic in its early
  // layers (batch statistics over 4 values at 1×1), where central differences of an f32 loss do not
  // converge at any step size; near the head they agree to a few parts in a thousand
  for (const probe of [19, 20]) {
    const h = 1e-3;
    const fd = (await lossAt(probe, h) - await lossAt(probe, -h)) / (2 * h);
    const an = g[offsets[probe] + 4];
    assert.ok(Math.abs(fd - an) <= 0.03 * Math.abs(an) + 1e-3, `block ${probe}: gate gradient ${an}, finite difference ${fd}`);
  }
  // gates of ops that did not run get nothing
  assert.is(g[offsets[0] + 0], 0);
  gates.grad!.dispose(); gates.dispose(); loss.dispose(); sn.dispose();
});

test('architecture step: Adam(β1 = 0) moves α_active − α_inactive by 2·lr, others and zero-active blocks unchanged; seeded runs repeat', async () => {
  const run = async () => {
    const sn = new MobileNetSupernet(be, new Rng(6), SIZE);
    const search = new ProxylessSearch(sn, new Rng(7));
    const opt = new SGD(sn.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 4e-5, flat: false });
    const { x, y } = batch('train');
    const w = await search.weightStep(x, y, opt);
    assert.ok(Number.isFinite(w.loss));
    const before = search.alphaValues();
    const { x: xv, y: yv } = batch('valid');
    const { paths } = await search.archStep(xv, yv);
    const after = search.alphaValues();
    paths.forEach((p, i) => {
      const a = p.active, b = p.inactive!;
      const zeroActive = parseOp(MOBILE_OPS[a]).kind === 'zero';
      for (let j = 0; j < before[i].length; j++) {
        if (zeroActive || (j !== a && j !== b)) assert.is(after[i][j], before[i][j], `block ${i} op ${j} should not move`);
      }
      if (zeroActive) return;
      const moved = Math.abs((after[i][a] - after[i][b]) - (before[i][a] - before[i][b]));
      // zero when the gate gradients happen to be equal; else lr·(sign − (−sign)) up to Adam's eps and f32
      if (moved > 1e-7) assert.ok(Math.abs(moved - 2 * PROXYLESS_ARCH_LR) < 2e-5, `block ${i}: moved ${moved}`);
    });
    const alphas = search.alphaValues();
    const genotype = search.derive();
    search.dispose(); opt.dispose(); sn.dispose();
    return { alphas, genotype };
  };
  const r1 = await run(), r2 = await run();
  assert.equal(r1.alphas, r2.alphas);
  assert.equal(r1.genotype, r2.genotype);
});

test('masks (sub-supernets): disabled ops are never sampled nor derived; a one-op block never moves', async () => {
  assert.is(sampleIndex([0.5, 0.5, 0], 0.9999999999999999), 1);
  assert.equal(maskedSoftmax([0, 5, 0], [true, false, true]), [0.5, 0, 0.5]);
  const sn = new MobileNetSupernet(be, new Rng(8), SIZE);
  const sizes = sn.blocks.map((b) => b.choices.length);
  // block i keeps ops {i mod 6, (i + 2) mod 6}; block 3 keeps only 3x3_MBConv6; others keep zero too where they have it
  const mask = sizes.map((n, i) => Array.from({ length: n }, (_, j) => (i === 3 ? j === 1 : j === i % 6 || j === (i + 2) % 6 || j === 6)));
  assert.throws(() => new ProxylessSearch(sn, new Rng(1), sizes.map((n) => new Array<boolean>(n).fill(false))), /block 0 has no enabled op/);
  assert.throws(() => new ProxylessSearch(sn, new Rng(1), [[true]]), /expected 21 rows/);
  const search = new ProxylessSearch(sn, new Rng(9), mask);
  const rng = new Rng(10);
  for (let k = 0; k < 50; k++) {
    for (const paths of [search.sampleSinglePaths(), sampleUniformPaths(sn, rng, mask)]) {
      paths.forEach((p, i) => assert.ok(mask[i][p.active], `block ${i} sampled disabled op ${p.active}`));
    }
  }
  const uniformCounts = [0, 0, 0];
  for (let k = 0; k < 3000; k++) uniformCounts[[0, 2, 6].indexOf(sampleUniformPaths(sn, rng, mask)[0].active)]++;
  assert.ok(uniformCounts.every((c) => Math.abs(c / 3000 - 1 / 2) < 0.05 || c === 0), `block 0 ${uniformCounts}`);
  // make a disabled op the largest α everywhere: derive still picks enabled ones
  search.setAlphas(sizes.map((n, i) => Array.from({ length: n }, (_, j) => (mask[i][j] ? j * 1e-3 : 5))));
  search.derive().forEach((op, i) => assert.ok(mask[i][MOBILE_OPS.indexOf(op.kind === 'zero' ? 'zero' : `${op.kernel}x${op.kernel}_MBConv${op.expand}`)]));
  const before = search.alphaValues();
  const { x, y } = batch('masked');
  const { paths } = await search.archStep(x, y);
  assert.equal(paths[3], { active: 1 });
  assert.equal(search.alphaValues()[3], before[3]);
  paths.forEach((p, i) => { assert.ok(mask[i][p.active]); if (p.inactive !== undefined) assert.ok(mask[i][p.inactive]); });
  search.dispose(); sn.dispose();
});

test.run();
