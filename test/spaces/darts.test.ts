// The DARTS space (issue [darts]): genotype text (DARTS repository format) parse/format/errors, the
// evaluation network against an independent PyTorch NetworkCIFAR (state-dict keys, parameter counts —
// DARTS_V2 at C=36, 20 cells: 3,349,342 without the auxiliary head — and a train/eval forward with
// every op kind), checkpoints, the reference's top-2 derivation, and the search supernet (samples,
// masks, GM's shared parameters and split-edge weight, a base-method step).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, backward, crossEntropy, add, mulScalar, softmax, countParameters, moduleStateKeys } from '../../src/engine/index.js';
import { getSpace, SPACE_NAMES } from '../../src/spaces/registry.js';
import { dartsSpace, dartsNoneSpace } from '../../src/spaces/darts/space.js';
import { DartsNetwork } from '../../src/spaces/darts/network.js';
import { DartsSupernet } from '../../src/spaces/darts/supernet.js';
import { DARTS_OPS, DARTS_S5_OPS } from '../../src/spaces/darts/ops.js';
import { parseGenotypeText, formatGenotypeText } from '../../src/spaces/darts/genotype.js';
import { createBaseMethod } from '../../src/search/index.js';
import { trainStandalone, cutoutMask } from '../../src/search/standalone.js';
import { assertClose } from '../helpers/backends.js';
import { readGolden, fillRecipe, scaledValues, type GoldenTensor } from '../search/nb201-recipe.js';

const be = new CpuBackend();

interface Golden {
  configs: { name: string; genotype: string; C: number; layers: number; numClasses: number; params: number; paramsWithAux: number; keys: [string, number[]][] | null }[];
  forward: {
    genotype: string; C: number; layers: number; numClasses: number; input: number[]; labels: number[]; auxWeight: number;
    keys: [string, number[]][]; logits: GoldenTensor; aux: GoldenTensor; loss: number; grads: Record<string, GoldenTensor>;
    buffers: Record<string, GoldenTensor>; evalLogits: GoldenTensor;
  };
}
const golden = readGolden<Golden>('darts-network.json');
const V2 = golden.configs.find((c) => c.name === 'DARTS_V2')!;
const PC = golden.configs.find((c) => c.name === 'PC_DARTS')!;

// ---- genotype text -------------------------------------------------------------------------------

test('registry: darts (s5, 7 ops) and darts-none (8 ops); 28 decisions, normal then reduce', () => {
  assert.ok(SPACE_NAMES.includes('darts') && SPACE_NAMES.includes('darts-none'));
  assert.is(getSpace('darts'), dartsSpace);
  assert.equal([dartsSpace.rows, dartsSpace.cols, dartsNoneSpace.cols], [28, 7, 8]);
  assert.equal([...DARTS_S5_OPS], ['max_pool_3x3', 'avg_pool_3x3', 'skip_connect', 'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']);
  assert.equal(dartsSpace.decisions.slice(0, 5).map((d) => d.key), ['normal:0->2', 'normal:1->2', 'normal:0->3', 'normal:1->3', 'normal:2->3']);
  assert.is(dartsSpace.decisions[14]!.key, 'reduce:0->2');
  assert.is(DARTS_OPS.length, 8);
});

test('genotype text: published genotypes parse, format in repr form, and round-trip', () => {
  for (const text of [V2.genotype, PC.genotype]) {
    const g = dartsSpace.parseGenotype(text);
    assert.is(g.filter((v) => v >= 0).length, 16);
    const out = dartsSpace.formatGenotype(g);
    assert.ok(out.startsWith("Genotype(normal=[('"), out);
    assert.ok(out.includes('normal_concat=range(2, 6)') && out.endsWith('reduce_concat=range(2, 6))'), out);
    assert.equal(dartsSpace.parseGenotype(out), g);
    assert.equal(parseGenotypeText(out), parseGenotypeText(text)); // same pairs, same order
  }
  // the written order within a node is kept (it names the eval network's _ops.k)
  assert.ok(dartsSpace.formatGenotype(dartsSpace.parseGenotype(V2.genotype)).includes("('sep_conv_3x3', 1), ('skip_connect', 0)"));
  // double quotes and free spacing
  const loose = V2.genotype.replace(/'/g, '"').replace(/, /g, ' ,  ');
  assert.equal(dartsSpace.parseGenotype(loose), dartsSpace.parseGenotype(V2.genotype));
});

test('genotype text: malformed strings fail with a message saying what is wrong', () => {
  const good = formatGenotypeText(parseGenotypeText(V2.genotype));
  const bad: [string, RegExp][] = [
    ['', /empty string/],
    ['Genotyp(normal=[])', /expected 'Genotype'/],
    [good.replace("normal_concat=range(2, 6), ", ''), /missing field 'normal_concat'/],
    [good.replace("('sep_conv_3x3', 0), ", ''), /normal has 7 \(op, input\) pairs, expected 8/],
    [good.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 6)"), /feeds node 5, whose inputs are states 0\.\.4/],
    [good.replace("('dil_conv_3x3', 2)", "('conv_7x7', 2)"), /op 'conv_7x7', not in this space/],
    [good.replace("('dil_conv_3x3', 2)", "('none', 2)"), /'none'/],
    [good.replace("('skip_connect', 0), ('dil_conv_3x3', 2)", "('skip_connect', 0), ('dil_conv_3x3', 0)"), /both inputs from state 0/],
    [good.replace('normal_concat=range(2, 6)', 'normal_concat=range(2, 5)'), /normal_concat is \[2, 3, 4\]/],
    [`${good} x`, /unexpected 'x' after the closing parenthesis/],
    [good.replace("'sep_conv_3x3', 0)", "'sep_conv_3x3, 0)"), /unterminated string|expected/],
    [good.replace('reduce=', 'reduce2='), /unknown field 'reduce2'/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => dartsSpace.parseGenotype(text), (e: Error) => re.test(e.message) && /DARTS genotype/.test(e.message), text);
  }
  // a single path (every edge) is not a DARTS Genotype
  assert.throws(() => dartsSpace.formatGenotype(new Array(28).fill(0)), /two edges in slot 0/);
});

// ---- evaluation network vs PyTorch ---------------------------------------------------------------

test('NetworkCIFAR: DARTS_V2 at C=36, 20 cells has 3,349,342 parameters without the auxiliary head; keys equal PyTorch', () => {
  const genotype = dartsSpace.parseGenotype(V2.genotype);
  const net = new DartsNetwork(be, new Rng(1), { genotype, ops: DARTS_S5_OPS, C: 36, N: 20, inputChannels: 3, numClasses: 10, auxiliary: true });
  const noAux = net.parameters().length - (net.auxiliaryHead?.parameters().length ?? 0);
  assert.ok(noAux > 0);
  const params = countParameters(net) - countParameters(net.auxiliaryHead!);
  assert.is(params, 3_349_342);
  assert.is(params, V2.params);
  assert.is(countParameters(net), V2.paramsWithAux);
  assert.equal(moduleStateKeys(net).map((k) => [k.name, k.shape]), V2.keys);
  net.dispose();
  const pc = dartsSpace.buildNetwork(be, new Rng(1), { genotype: dartsSpace.parseGenotype(PC.genotype), C: 36, N: 20, inputChannels: 3, numClasses: 10 });
  assert.is(countParameters(pc), PC.params);
  pc.dispose();
});

function assertGrad(actual: Float32Array, g: GoldenTensor, label: string): void {
  const scale = Math.max(...g.data.map(Math.abs));
  assertClose(actual, Float32Array.from(g.data), 2e-3, Math.max(3e-4 * scale, 1e-7), label);
}

test('NetworkCIFAR forward/backward (every op, auxiliary head, train and eval BN) equals PyTorch', async () => {
  const f = golden.forward;
  const net = new DartsNetwork(be, new Rng(2), {
    genotype: dartsSpace.parseGenotype(f.genotype), ops: DARTS_S5_OPS, C: f.C, N: f.layers, inputChannels: 3, numClasses: f.numClasses, auxiliary: true,
  });
  assert.equal(moduleStateKeys(net).map((k) => [k.name, k.shape]), f.keys);
  fillRecipe(net);
  const [B, Cin, H, W] = f.input as [number, number, number, number];
  const x = Tensor.fromArray(be, scaledValues('input', B * Cin * H * W, 0.8), [B, Cin, H, W]);
  const y = Tensor.fromArray(be, f.labels, [B]);
  net.train();
  const { logits, aux, loss } = tidy(() => {
    const out = net.forwardTrain(x);
    const l = add(crossEntropy(out.logits, y), mulScalar(crossEntropy(out.aux!, y), f.auxWeight));
    backward(l);
    return { logits: out.logits, aux: out.aux!, loss: l };
  });
  assertClose(await logits.data(), Float32Array.from(f.logits.data), 1e-3, 1e-4, 'logits');
  assertClose(await aux.data(), Float32Array.from(f.aux.data), 1e-3, 1e-4, 'aux logits');
  assert.ok(Math.abs((await loss.data())[0]! - f.loss) < 1e-4, `loss ${(await loss.data())[0]} vs ${f.loss}`);
  const params = new Map(net.namedParameters());
  for (const [name, g] of Object.entries(f.grads)) assertGrad(await params.get(name)!.grad!.data(), g, `grad ${name}`);
  const state = new Map(net.stateDict());
  for (const [name, b] of Object.entries(f.buffers)) assertClose(await state.get(name)!.data(), Float32Array.from(b.data), 1e-3, 1e-5, name);
  net.eval();
  const ev = tidy(() => net.forward(x));
  assertClose(await ev.data(), Float32Array.from(f.evalLogits.data), 1e-3, 1e-4, 'eval logits');
  net.dispose();
});

test('network checkpoints: PyTorch names, metadata that rebuilds the network, strict loading', async () => {
  const f = golden.forward;
  const net = dartsSpace.buildNetwork(be, new Rng(3), { genotype: dartsSpace.parseGenotype(f.genotype), C: f.C, N: f.layers, inputChannels: 3, numClasses: 10, auxiliary: true } as never);
  const bytes = await dartsSpace.encodeNetwork(net, { seed: '3' });
  const back = dartsSpace.decodeNetwork(be, new Rng(9), bytes, 'mem.safetensors');
  assert.is(back.metadata.format, 'gmnas.darts.network/1');
  assert.is(back.metadata.genotype, dartsSpace.formatGenotype(net.config.genotype));
  assert.equal(moduleStateKeys(back.network).map((k) => [k.name, k.shape]), f.keys);
  const a = net.stateDict(), b = new Map(back.network.stateDict());
  for (const [n, t] of a) assert.equal(Array.from(await t.data()), Array.from(await b.get(n)!.data()), n);
  // a network of another genotype refuses the file
  const other = dartsSpace.buildNetwork(be, new Rng(3), { genotype: dartsSpace.parseGenotype(V2.genotype), C: f.C, N: f.layers, inputChannels: 3, numClasses: 10 });
  assert.throws(() => dartsSpace.loadNetworkInto(other, bytes, 'mem.safetensors'), /differs from the network's/);
  for (const m of [net, back.network, other]) m.dispose();
});

// ---- derivation ----------------------------------------------------------------------------------

test("derive: the reference's top-2 parse per node ('none' excluded, masked ops excluded, strongest edge first)", () => {
  for (const space of [dartsSpace, dartsNoneSpace]) {
    const cols = space.cols, ops = space.decisions[0]!.ops;
    const col = (name: string): number => ops.indexOf(name);
    const alpha = new Float32Array(28 * cols);
    const set = (row: number, name: string, v: number): void => { alpha[row * cols + col(name)] = v; };
    // normal node 2 (rows 0, 1): edge from 1 stronger than from 0; node 3 (rows 2..4): edges 2 and 0
    set(0, 'sep_conv_3x3', 2); set(1, 'dil_conv_5x5', 3);
    set(2, 'max_pool_3x3', 1.5); set(4, 'skip_connect', 2.5); set(3, 'avg_pool_3x3', 0.5);
    if (space === dartsNoneSpace) set(3, 'none', 9); // 'none' never counts
    const g = space.derive(alpha, space.fullMask());
    const text = parseGenotypeText(space.formatGenotype(g));
    assert.equal(text.normal.slice(0, 4), [
      { op: 'dil_conv_5x5', from: 1 }, { op: 'sep_conv_3x3', from: 0 }, { op: 'skip_connect', from: 2 }, { op: 'max_pool_3x3', from: 0 },
    ]);
    // masking the winner of row 1 hands it to the next best op of that row
    const mask = space.restrictMask(space.fullMask(), 1, ops.map((_, k) => k).filter((k) => k !== col('dil_conv_5x5') && ops[k] !== 'none'));
    const g2 = parseGenotypeText(space.formatGenotype(space.derive(alpha, mask)));
    assert.equal(g2.normal[0], { op: 'sep_conv_3x3', from: 0 });
  }
});

// ---- supernet ------------------------------------------------------------------------------------

const SIZES = { C: 4, N: 3, inputChannels: 3, numClasses: 5 };

test('supernet: reference state-dict names, α gradient through a masked softmax sample, sample checks', async () => {
  const net = dartsSpace.buildSupernet(be, new Rng(5), { ...SIZES, trackCellStats: true }) as DartsSupernet;
  const names = new Set(moduleStateKeys(net).map((k) => k.name));
  for (const n of ['stem.0.weight', 'cells.0.preprocess0.op.1.weight', 'cells.1.preprocess1.op.2.running_var', 'cells.2.preprocess0.conv_2.weight',
    'cells.0._ops.0._ops.0.1.running_mean', 'cells.0._ops.13._ops.3.op.7.running_var', 'cells.1._ops.0._ops.2.conv_1.weight', 'classifier.bias']) {
    assert.ok(names.has(n), n);
  }
  assert.not.ok([...names].some((n) => /_ops\.\d+\._ops\.\d+\..*\.weight$/.test(n) && n.includes('op.3.weight')), 'cell BNs are not affine');
  const x = Tensor.fromArray(be, scaledValues('input', 2 * 3 * 16 * 16, 1), [2, 3, 16, 16]);
  const y = Tensor.fromArray(be, [1, 4], [2]);
  const alpha = Tensor.fromArray(be, scaledValues('alpha', 28 * 7, 0.5), [28, 7]).param('alpha');
  const mask = dartsSpace.restrictMask(dartsSpace.fullMask(), 3, [2, 5]);
  const bias = Tensor.fromArray(be, Float32Array.from(mask, (v) => (v ? 0 : -1e9)), [28, 7]);
  const m2 = dartsSpace.buildSupernet(be, new Rng(5), { ...SIZES, trackCellStats: true, mask });
  tidy(() => backward(crossEntropy(m2.forward(x, dartsSpace.mixedSample(mask, softmax(add(alpha, bias)))), y)));
  const g = await alpha.grad!.data();
  assert.ok(g.some((v) => v !== 0));
  for (let k = 0; k < 7; k++) if (!mask[3 * 7 + k]) assert.is(g[3 * 7 + k], 0, `masked op ${k} of edge 3`);
  assert.throws(() => m2.forward(x, dartsSpace.singlePathSample(new Array(28).fill(0))), /disables/);
  assert.throws(() => net.forward(x, { ops: [[0]], weights: null }), /28 DARTS edges/);
  // a single path and a derived genotype run
  const sp = dartsSpace.sampleSinglePath(new (class { s = 1; next() { this.s = (this.s * 16807) % 2147483647; return this.s / 2147483647; } })(), mask);
  assert.ok(dartsSpace.isValidSinglePath(sp) && dartsSpace.maskAdmits(mask, sp));
  assert.ok(dartsSpace.formatGenotype(sp).startsWith('Genotype('));
  assert.not.ok(dartsSpace.isValidSinglePath(new Array(28).fill(0)));
  // per node Σ_{i<j} n_i n_j with 7 ops per edge: (1·49)(3·49)(6·49)(10·49), squared (two cells)
  assert.is(dartsSpace.countSinglePaths(dartsSpace.fullMask()), (180 * 49 ** 4) ** 2);
  const logits = tidy(() => net.forward(x, dartsSpace.singlePathSample(dartsSpace.parseGenotype(V2.genotype))));
  assert.equal(logits.shape, [2, 5]);
  for (const t of [x, y, alpha, bias, logits]) t.dispose();
  net.dispose(); m2.dispose();
});

test('supernet checkpoint names: the PyTorch search model state_dict keys and shapes, in order (both op sets)', () => {
  // test/goldens/darts-supernet.json, from scripts/goldens/make_darts_supernet_goldens.py
  const sg = readGolden<{ configs: { space: string; ops: string[]; C: number; layers: number; numClasses: number; inputChannels: number; params: number; keys: [string, number[]][] }[] }>('darts-supernet.json');
  assert.equal(sg.configs.map((c) => c.space), ['darts', 'darts-none']);
  for (const c of sg.configs) {
    const space = getSpace(c.space);
    assert.equal([...space.decisions[0]!.ops], c.ops);
    const net = space.buildSupernet(be, new Rng(1), { C: c.C, N: c.layers, inputChannels: c.inputChannels, numClasses: c.numClasses, trackCellStats: true });
    assert.equal(moduleStateKeys(net).map((k) => [k.name, k.shape]), c.keys, `${c.space} state-dict keys`);
    assert.is(countParameters(net), c.params);
    net.dispose();
  }
});

test('GM rules: normal edges only, shared parameters exclude the split edge, the split op keeps its sampled weight', async () => {
  assert.equal(dartsSpace.split.candidates(dartsSpace.fullMask()), Array.from({ length: 14 }, (_, i) => i));
  assert.equal(dartsSpace.split.groupSizes(7, 2), [[2, 5], [3, 4]]);
  assert.is(dartsSpace.split.edgeCriterion, 'min-intra');
  const net = dartsSpace.buildSupernet(be, new Rng(6), { ...SIZES, trackCellStats: true }) as DartsSupernet;
  const all = new Set(net.sharedParameters(-1));
  const shared = new Set(net.sharedParameters(4));
  const edge4 = net.cells.items.filter((c) => !c.reduction).flatMap((c) => c.mixed[4]!.parameters());
  assert.ok(edge4.length > 0 && edge4.every((p) => all.has(p) && !shared.has(p)));
  assert.is(shared.size, all.size - edge4.length);
  for (const p of [...net.stem.parameters(), ...net.classifier.parameters(), ...net.cells.items[0]!.preprocess1.parameters()]) assert.not.ok(all.has(p));
  const w = Tensor.fromArray(be, scaledValues('w', 28 * 7, 1), [28, 7]);
  const base = dartsSpace.mixedSample(dartsSpace.fullMask(), w);
  const kept = dartsSpace.replaceDecisionOp(base, 4, 3, true);
  assert.equal(kept.ops[4], [3]);
  assert.is(kept.weights, w);
  const one = dartsSpace.replaceDecisionOp(base, 4, 3, false);
  const v = await one.weights!.data();
  assert.equal(Array.from(v.subarray(28, 35)), [0, 0, 0, 1, 0, 0, 0]);
  one.weights!.dispose(); w.dispose(); net.dispose();
});

test('base methods run on the DARTS supernet and derive DARTS genotypes', async () => {
  for (const name of ['darts', 'snas', 'gdas', 'rsps'] as const) {
    const m = createBaseMethod(name, { backend: be, space: dartsSpace, sizes: SIZES, imageShape: [3, 8, 8], seed: 1 });
    const xb = { x: scaledValues('bx', 4 * 3 * 64, 1), y: Float32Array.from([0, 1, 2, 3]), n: 4 };
    const batch = { x: Tensor.fromArray(be, xb.x, [4, 3, 8, 8]), y: Tensor.fromArray(be, xb.y, [4]), n: 4 };
    await m.trainStep(batch, batch, { updateArch: true });
    const d = await m.derive({ valid: [batch], candidates: 2 });
    assert.ok(d.genotypeString.startsWith('Genotype('), `${name}: ${d.genotypeString}`);
    batch.x.dispose(); batch.y.dispose();
    m.dispose();
  }
});

test('cutout: one clipped square of zeros per image, the same for every channel', () => {
  let s = 7;
  const rng = { next: () => ((s = (s * 48271) % 2147483647) / 2147483647) };
  const m = cutoutMask(rng, [20, 2, 12, 10], 6);
  for (let n = 0; n < 20; n++) {
    const plane = (c: number) => m.subarray((n * 2 + c) * 120, (n * 2 + c + 1) * 120);
    assert.equal(Array.from(plane(0)), Array.from(plane(1)));
    const zeros = plane(0).reduce((a, v) => a + (v === 0 ? 1 : 0), 0);
    assert.ok(zeros > 0 && zeros <= 36, `image ${n}: ${zeros} zeros`);
    // the zeros form a rectangle
    const ys = new Set<number>(), xs = new Set<number>();
    plane(0).forEach((v, i) => { if (v === 0) { ys.add(Math.floor(i / 10)); xs.add(i % 10); } });
    assert.is(zeros, ys.size * xs.size);
  }
});

test('stand-alone training with the DARTS protocol (auxiliary loss, drop-path, cutout) runs and is seeded', async () => {
  const task = (seed: number) => ({ x: scaledValues(`img${seed}`, 4 * 3 * 32 * 32, 1), y: Float32Array.from([0, 1, 2, 3]), n: 4 });
  const run = async () => {
    let k = 0;
    const r = await trainStandalone({
      backend: be, space: dartsSpace, seed: 5, imageShape: [3, 32, 32], train: { next: () => task(k++ % 2) }, stepsPerEpoch: 2,
      network: { genotype: dartsSpace.parseGenotype(V2.genotype), C: 4, N: 3, inputChannels: 3, numClasses: 4 },
      hyper: { ...dartsSpace.trainPresets!.paper!.hyper, epochs: 2, batchSize: 4 }, evaluate: [task(9)],
    });
    const h = r.history.map((e) => [e.train.loss, e.eval?.loss ?? null]);
    assert.ok((r.network as DartsNetwork).auxiliaryHead !== null);
    assert.is(r.replayedSteps, 0);
    r.network.dispose();
    return h;
  };
  const a = await run(), b = await run();
  assert.ok(a.flat().every((v) => v === null || Number.isFinite(v)));
  assert.equal(a, b);
});

test.run();
