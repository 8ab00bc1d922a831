// Supernet behaviour: masks, skipped zero-weight ops, single paths, edge replacement (GM's θ_o),
// parameter roles, weight inheritance, and agreement with the stand-alone network.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, backward, crossEntropy, noGrad } from '../../src/engine/index.js';
import {
  Nb201Supernet, mixedSample, singlePathSample, sampleFromHostWeights, replaceEdgeOp, copyModuleState, type ArchSample,
} from '../../src/spaces/nb201/supernet.js';
import { Nb201Network } from '../../src/spaces/nb201/network.js';
import { fullMask, restrictMask, NB201_EDGES, OP_NONE, OP_SKIP, OP_CONV_1X1, OP_CONV_3X3, OP_AVG_POOL } from '../../src/spaces/nb201/ops.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { assertClose } from '../helpers/backends.js';

const be = new CpuBackend();
const SIZE = { C: 4, N: 1, inputChannels: 3, numClasses: 5 };
const B = 4, H = 8;

function batch(seed: number, channels = 3): { x: Tensor; y: Tensor } {
  const r = new Rng(seed);
  const x = new Float32Array(B * channels * H * H).map(() => r.normal());
  return { x: Tensor.fromArray(be, x, [B, channels, H, H]), y: Tensor.fromArray(be, [0, 1, 2, 3], [B]) };
}

function hostWeights(seed: number): Float32Array {
  const r = new Rng(seed);
  return new Float32Array(30).map(() => 0.1 + r.next());
}

/** logits and loss of one train-mode step, gradients left on the parameters */
function step(s: Nb201Supernet | Nb201Network, x: Tensor, y: Tensor, sample?: ArchSample): { logits: Tensor; loss: Tensor } {
  return tidy(() => {
    for (const p of s.parameters()) { p.grad?.dispose(); p.grad = null; }
    const logits = s instanceof Nb201Supernet ? s.forward(x, sample!) : s.forward(x);
    const loss = crossEntropy(logits, y);
    backward(loss);
    return { logits, loss };
  });
}

test('forward gives [N, classes] logits for 1- and 3-channel inputs and rejects a wrong channel count', () => {
  for (const inputChannels of [1, 3]) {
    const s = new Nb201Supernet(be, new Rng(1), { ...SIZE, inputChannels, trackCellStats: true });
    const { x } = batch(2, inputChannels);
    const w = Tensor.fromArray(be, hostWeights(3), [6, 5]);
    const out = tidy(() => s.forward(x, mixedSample(s.mask, w)));
    assert.equal(out.shape, [B, 5]);
    const bad = batch(2, inputChannels === 1 ? 3 : 1).x;
    assert.throws(() => s.forward(bad, mixedSample(s.mask, w)), /must be \[N, \d, H, W\]/);
    s.dispose();
  }
});

test('masked ops never run and get no gradient; a sample that runs a masked op is rejected', () => {
  let mask = restrictMask(fullMask(), 0, [OP_SKIP]);
  mask = restrictMask(mask, 3, [OP_NONE, OP_CONV_1X1]);
  const s = new Nb201Supernet(be, new Rng(4), { ...SIZE, trackCellStats: true, mask });
  const { x, y } = batch(5);
  const w = Tensor.fromArray(be, hostWeights(6), [6, 5]);
  const before = be.dispatchCount();
  step(s, x, y, mixedSample(mask, w));
  const masked = be.dispatchCount() - before;
  for (const [e, o] of [[0, OP_CONV_1X1], [0, OP_CONV_3X3], [3, OP_CONV_3X3]]) {
    for (const p of s.edgeOpParameters(e, o)) assert.is(p.grad, null, `edge ${e} op ${o}`);
  }
  for (const [e, o] of [[3, OP_CONV_1X1], [1, OP_CONV_3X3], [5, OP_CONV_1X1]]) {
    for (const p of s.edgeOpParameters(e, o)) assert.ok(p.grad, `edge ${e} op ${o} should train`);
  }
  // the same weights without the mask run more kernels
  const full = new Nb201Supernet(be, new Rng(4), { ...SIZE, trackCellStats: true });
  const before2 = be.dispatchCount();
  step(full, x, y, mixedSample(full.mask, w));
  assert.ok(be.dispatchCount() - before2 > masked, 'masking must save kernel launches');
  assert.throws(() => s.forward(x, singlePathSample([3, 3, 3, 3, 3, 3])), /disables/);
  s.dispose(); full.dispose();
});

test('ops whose host weight is exactly 0 launch nothing and the output is unchanged', () => {
  const s = new Nb201Supernet(be, new Rng(7), { ...SIZE, trackCellStats: true });
  const { x, y } = batch(8);
  const hw = hostWeights(9);
  for (const [e, o] of [[0, OP_CONV_3X3], [2, OP_CONV_1X1], [4, OP_AVG_POOL], [5, OP_CONV_3X3], [5, OP_SKIP]]) hw[e * 5 + o] = 0;
  const skipping = sampleFromHostWeights(be, hw, s.mask);
  assert.equal(skipping.ops[0], [0, 1, 2, 4]);
  assert.equal(skipping.ops[5], [0, 2, 4]);
  const runAll = mixedSample(s.mask, skipping.weights!); // same weights, every op runs
  const d0 = be.dispatchCount();
  const a = step(s, x, y, skipping);
  const d1 = be.dispatchCount();
  const gradSkipped = s.edgeOpParameters(0, OP_CONV_3X3).map((p) => p.grad);
  const b = step(s, x, y, runAll);
  const d2 = be.dispatchCount();
  assert.ok(d1 - d0 < d2 - d1, `skipping zero-weight ops saves launches (${d1 - d0} vs ${d2 - d1})`);
  for (const g of gradSkipped) assert.is(g, null);
  return Promise.all([a.logits.data(), b.logits.data()]).then(([la, lb]) => {
    assertClose(la, lb, 1e-6, 1e-6, 'logits with and without the zero-weight ops');
    s.dispose();
  });
});

test('a single path equals the mixed forward with one-hot weights (values and gradients)', async () => {
  const s = new Nb201Supernet(be, new Rng(10), { ...SIZE, trackCellStats: true });
  const { x, y } = batch(11);
  const g = parseGenotype('|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|');
  const onehot = new Float32Array(30);
  g.forEach((o, e) => { onehot[e * 5 + o] = 1; });
  const single = step(s, x, y, singlePathSample(g));
  const pathParams = [...s.edgeOpParameters(0, OP_CONV_3X3), ...s.edgeOpParameters(2, OP_CONV_1X1), ...s.paramGroups().stem];
  const g1 = await Promise.all(pathParams.map((p) => p.grad!.data()));
  const mixed = step(s, x, y, mixedSample(s.mask, Tensor.fromArray(be, onehot, [6, 5])));
  const g2 = await Promise.all(pathParams.map((p) => p.grad!.data()));
  assertClose(await single.logits.data(), await mixed.logits.data(), 1e-5, 1e-6, 'logits');
  g1.forEach((g, i) => assertClose(g, g2[i], 1e-4, 1e-6, `grad ${i}`));
  // the zero-weight conv ops ran in the mixed pass: their gradient is exactly zero there
  for (const p of s.edgeOpParameters(1, OP_CONV_3X3)) assert.ok((await p.grad!.data()).every((v) => v === 0));
  s.dispose();
});

test('replaceEdgeOp puts one op alone on an edge at weight 1 and keeps the other rows', async () => {
  const s = new Nb201Supernet(be, new Rng(12), { ...SIZE, trackCellStats: true });
  const { x } = batch(13);
  const hw = hostWeights(14);
  const base = sampleFromHostWeights(be, hw, s.mask);
  const replaced = replaceEdgeOp(base, 2, OP_CONV_3X3);
  assert.equal(replaced.ops[2], [OP_CONV_3X3]);
  assert.equal(replaced.ops[1], base.ops[1]);
  const expected = hw.slice();
  for (let o = 0; o < 5; o++) expected[2 * 5 + o] = o === OP_CONV_3X3 ? 1 : 0;
  assert.equal(Array.from(await replaced.weights!.data()), Array.from(expected));
  const a = tidy(() => s.forward(x, replaced));
  const b = tidy(() => s.forward(x, sampleFromHostWeights(be, expected, s.mask)));
  assertClose(await a.data(), await b.data(), 1e-6, 1e-7, 'replaced vs host-built sample');
  // gradients flow back to the source weights for the kept rows only
  const w = Tensor.fromArray(be, hw, [6, 5]);
  w.requiresGrad = true;
  tidy(() => backward(crossEntropy(s.forward(x, replaceEdgeOp(mixedSample(s.mask, w), 2, OP_NONE)), Tensor.fromArray(be, [0, 1, 2, 3], [4]))));
  const gw = await w.grad!.data();
  for (let o = 0; o < 5; o++) assert.is(gw[2 * 5 + o], 0);
  assert.ok(gw.slice(0, 10).some((v) => v !== 0));
  s.dispose();
});

test('parameter roles: shared weights are all edge ops of the other edges plus the reduction blocks', () => {
  const s = new Nb201Supernet(be, new Rng(15), { ...SIZE, trackCellStats: true });
  const groups = s.paramGroups();
  const all = new Set(s.parameters());
  const roles = [...groups.stem, ...groups.head, ...groups.reductions, ...groups.edgeOps.flat(2)];
  assert.is(roles.length, all.size);
  assert.is(new Set(roles).size, all.size);
  const names = new Map(s.namedParameters().map(([n, t]) => [t, n]));
  for (let e = 0; e < 6; e++) {
    const shared = s.sharedParameters(e);
    const sharedNames = shared.map((t) => names.get(t)!);
    assert.ok(sharedNames.every((n) => !n.includes(`.edges.${NB201_EDGES[e].key}.`)), `edge ${e} excluded`);
    assert.ok(sharedNames.every((n) => !n.startsWith('stem.') && !n.startsWith('lastact.') && !n.startsWith('classifier.')));
    const edgeCount = groups.edgeOps[e].flat().length;
    assert.is(shared.length, groups.edgeOps.flat(2).length - edgeCount + groups.reductions.length);
    // 3 search cells × (1×1 conv + 3×3 conv) per edge; non-affine BN has no parameters
    assert.is(edgeCount, 3 * 2);
  }
  assert.is(s.sharedParameters(-1).length, groups.edgeOps.flat(2).length + groups.reductions.length);
  s.dispose();
});

test('copyStateFrom / cloneWithMask inherit weights, buffers and BN counts exactly', async () => {
  const s = new Nb201Supernet(be, new Rng(16), { ...SIZE, trackCellStats: true });
  const { x, y } = batch(17);
  step(s, x, y, mixedSample(s.mask, Tensor.fromArray(be, hostWeights(18), [6, 5]))); // moves running stats
  const child = s.cloneWithMask(restrictMask(fullMask(), 4, [OP_SKIP, OP_CONV_3X3]), new Rng(99));
  const a = new Map(s.stateDict()), b = child.stateDict();
  for (const [name, t] of b) assert.equal(Array.from(await t.data()), Array.from(await a.get(name)!.data()), name);
  assert.is(child.stem.layers[1] !== s.stem.layers[1], true);
  s.eval(); child.eval();
  const g = [3, 1, 2, 3, 3, 1];
  const la = tidy(() => s.forward(x, singlePathSample(g)));
  const lb = tidy(() => child.forward(x, singlePathSample(g)));
  assert.equal(Array.from(await la.data()), Array.from(await lb.data()));
  const other = new Nb201Supernet(be, new Rng(1), { ...SIZE, C: 8, trackCellStats: true });
  assert.throws(() => other.copyStateFrom(s), /C 4/);
  s.dispose(); child.dispose(); other.dispose();
});

test('the stand-alone network equals the supernet single path with copied weights (train and eval BN)', async () => {
  // Cell BNs: affine with γ=1, β=0 (fresh) in the network vs non-affine in the supernet — the same
  // function; both track running statistics, so eval mode agrees too after identical train steps.
  const g = parseGenotype('|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_3x3~0|avg_pool_3x3~1|none~2|');
  const s = new Nb201Supernet(be, new Rng(20), { ...SIZE, trackCellStats: true });
  const net = new Nb201Network(be, new Rng(21), { ...SIZE, genotype: g });
  const src = new Map(s.stateDict());
  noGrad(() => {
    for (const [name, t] of net.stateDict()) {
      const m = /^cells\.(\d+)\.layers\.(\d)\.(.*)$/.exec(name);
      const from = m ? `cells.${m[1]}.edges.${NB201_EDGES[+m[2]].key}.${g[+m[2]]}.${m[3]}` : name;
      if (m && (m[3] === 'op.2.weight' || m[3] === 'op.2.bias')) continue; // affine γ/β stay 1/0
      const st = src.get(from);
      assert.ok(st, `supernet has ${from}`);
      be.copy(st!.storage, t.storage, t.size);
    }
  });
  const { x, y } = batch(22);
  const a = step(s, x, y, singlePathSample(g));
  const b = step(net, x, y);
  assertClose(await b.logits.data(), await a.logits.data(), 1e-5, 1e-6, 'train-mode logits');
  const netParams = new Map(net.namedParameters());
  for (const [name, p] of netParams) {
    const m = /^cells\.(\d+)\.layers\.(\d)\.op\.1\.weight$/.exec(name);
    if (!m) continue;
    const sp = s.edgeOpParameters(+m[2], g[+m[2]])[[0, 2, 4].indexOf(+m[1])];
    // edge 1 (2<-0) only feeds node 2, whose sole consumer is 'none': a dead branch, no gradient in either
    if (m[2] === '1') { assert.is(p.grad, null); assert.is(sp.grad, null); continue; }
    assertClose(await p.grad!.data(), await sp.grad!.data(), 1e-4, 1e-7, `grad ${name}`);
  }
  s.eval(); net.eval();
  const ea = tidy(() => s.forward(x, singlePathSample(g)));
  const eb = tidy(() => net.forward(x));
  assertClose(await eb.data(), await ea.data(), 1e-5, 1e-6, 'eval-mode logits');
  s.dispose(); net.dispose();
});

test('a cell cut off by none ops yields exactly zero at its output', async () => {
  const s = new Nb201Supernet(be, new Rng(23), { ...SIZE, trackCellStats: false });
  const { x } = batch(24);
  const cell = s.searchCells[0];
  const out = tidy(() => cell.forward(s.stem.forward(x), singlePathSample([3, 3, 3, 0, 0, 0])));
  assert.ok((await out.data()).every((v) => v === 0));
  const logits = tidy(() => s.forward(x, singlePathSample([0, 0, 0, 0, 0, 0])));
  assert.equal(logits.shape, [B, 5]);
  assert.ok((await logits.data()).every(Number.isFinite));
  s.dispose();
});

test('copyModuleState refuses modules with different tensors', () => {
  const a = new Nb201Network(be, new Rng(1), { ...SIZE, genotype: [3, 3, 3, 3, 3, 3] });
  const b = new Nb201Network(be, new Rng(1), { ...SIZE, genotype: [1, 3, 3, 3, 3, 3] });
  assert.throws(() => copyModuleState(a, b), /tensors/);
  a.dispose(); b.dispose();
});

test.run();
