// The NB201 networks against independent references: the spec's parameter counts (§1.3), PyTorch's
// state_dict names and shapes (test/goldens/nb201-state-dict-keys.json), and PyTorch forward/backward
// values of tiny networks with deterministic weights (test/goldens/nb201-forward.json); both goldens
// come from scripts/goldens/make_nb201_goldens.py.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, backward, crossEntropy } from '../../src/engine/index.js';
import { Nb201Supernet, mixedSample } from '../../src/spaces/nb201/supernet.js';
import { Nb201Network } from '../../src/spaces/nb201/network.js';
import { countParameters, supernetParamCount, networkParamCount } from '../../src/spaces/nb201/params.js';
import { moduleStateKeys } from '../../src/spaces/nb201/checkpoint.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { maskFromRows } from '../../src/spaces/nb201/ops.js';
import { assertClose } from '../helpers/backends.js';
import { readGolden, fillRecipe, scaledValues, type GoldenTensor } from '../search/nb201-recipe.js';

const be = new CpuBackend();
const CIFAR10 = { C: 16, N: 5, inputChannels: 3, numClasses: 10 };
const ALL_3X3 = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|';
const BEST = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|';
const PARAM_FREE = '|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|';

test('supernet parameter count is the spec value 1,686,106 (C=16, N=5, 10 classes)', () => {
  const s = new Nb201Supernet(be, new Rng(1), { ...CIFAR10, trackCellStats: true });
  assert.is(countParameters(s), 1_686_106);
  assert.is(supernetParamCount(CIFAR10), 1_686_106);
  s.dispose();
  // spec §1.3: CIFAR-100 and ImageNet16-120 heads
  assert.is(supernetParamCount({ ...CIFAR10, numClasses: 100 }), 1_691_956);
  assert.is(supernetParamCount({ ...CIFAR10, numClasses: 120 }), 1_693_256);
});

test('stand-alone parameter counts are the spec values (all 3×3, best cell, parameter-free)', () => {
  for (const [g, expected] of [[ALL_3X3, 1_531_546], [BEST, 1_288_506], [PARAM_FREE, 73_306]] as const) {
    const genotype = parseGenotype(g);
    const net = new Nb201Network(be, new Rng(2), { ...CIFAR10, genotype });
    assert.is(countParameters(net), expected, g);
    assert.is(networkParamCount(genotype, CIFAR10), expected, g);
    net.dispose();
  }
});

test('closed-form counts equal built modules for 1 input channel and other sizes', () => {
  const size = { C: 4, N: 2, inputChannels: 1, numClasses: 7 };
  const g = parseGenotype('|nor_conv_1x1~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|skip_connect~1|nor_conv_1x1~2|');
  const s = new Nb201Supernet(be, new Rng(3), { ...size, trackCellStats: false });
  const n = new Nb201Network(be, new Rng(3), { ...size, genotype: g });
  assert.is(countParameters(s), supernetParamCount(size));
  assert.is(countParameters(n), networkParamCount(g, size));
  s.dispose(); n.dispose();
});

interface KeyConfig {
  kind: 'network' | 'supernet'; C: number; N: number; inputChannels: number; numClasses: number;
  genotype?: string; trackCellStats?: boolean; params: number; keys: [string, number[]][];
}

test('state_dict names, order and shapes equal PyTorch (ADL TinyNetwork, GM search model)', () => {
  const golden = readGolden<{ configs: KeyConfig[] }>('nb201-state-dict-keys.json');
  assert.is(golden.configs.length, 4);
  for (const c of golden.configs) {
    const size = { C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses };
    const model = c.kind === 'network'
      ? new Nb201Network(be, new Rng(4), { ...size, genotype: parseGenotype(c.genotype!) })
      : new Nb201Supernet(be, new Rng(4), { ...size, trackCellStats: c.trackCellStats! });
    const ours = moduleStateKeys(model).map((k) => [k.name, k.shape]);
    assert.equal(ours, c.keys, `${c.kind} C=${c.C} N=${c.N}`);
    assert.is(countParameters(model), c.params);
    model.dispose();
  }
});

// ---- numeric goldens ---------------------------------------------------------------------------

interface ForwardCase {
  name: string; kind: string; C: number; N: number; inputChannels: number; numClasses: number;
  genotype?: string; trackCellStats?: boolean; mask?: number[][]; batch: number; H: number; W: number;
  alphaScale?: number; logits: GoldenTensor; loss: number; grads: Record<string, GoldenTensor>;
  noGrad?: string[]; buffers?: Record<string, GoldenTensor>; evalLogits?: GoldenTensor;
}
const cases = readGolden<{ cases: ForwardCase[] }>('nb201-forward.json').cases;

function inputsOf(c: ForwardCase): { x: Tensor; y: Tensor } {
  const x = Tensor.fromArray(be, scaledValues('input', c.batch * c.inputChannels * c.H * c.W, 1), [c.batch, c.inputChannels, c.H, c.W]);
  const y = Tensor.fromArray(be, Array.from({ length: c.batch }, (_, i) => i % c.numClasses), [c.batch]);
  return { x, y };
}

/** Gradient tolerance: relative to the largest gradient of the tensor (f32 sums vs float64), with a
 *  floor for tensors whose true gradient is 0 (a BN bias right before another BN). */
function assertGrad(actual: Float32Array, g: GoldenTensor, label: string): void {
  const scale = Math.max(...g.data.map(Math.abs));
  assertClose(actual, Float32Array.from(g.data), 2e-3, Math.max(2e-4 * scale, 1e-7), label);
}

async function checkCase(c: ForwardCase, model: Nb201Network | Nb201Supernet, forward: (x: Tensor) => Tensor): Promise<void> {
  fillRecipe(model);
  const { x, y } = inputsOf(c);
  model.train();
  const { logits, loss } = tidy(() => {
    const logits = forward(x);
    const loss = crossEntropy(logits, y);
    backward(loss);
    return { logits, loss };
  });
  assertClose(await logits.data(), Float32Array.from(c.logits.data), 1e-4, 1e-5, `${c.name}: logits`);
  assert.ok(Math.abs((await loss.data())[0] - c.loss) < 1e-5, `${c.name}: loss`);
  const params = new Map(model.namedParameters());
  for (const [name, g] of Object.entries(c.grads)) {
    const p = params.get(name);
    assert.ok(p, `${c.name}: no parameter ${name}`);
    assert.ok(p!.grad, `${c.name}: ${name} has no gradient`);
    assertGrad(await p!.grad!.data(), g, `${c.name}: grad ${name}`);
  }
  // parameters PyTorch left without a gradient (masked ops) must have none here either
  for (const name of c.noGrad ?? []) assert.is(params.get(name)!.grad, null, `${c.name}: ${name} should get no gradient`);
  assert.is(Object.keys(c.grads).length + (c.noGrad?.length ?? 0), params.size, `${c.name}: parameter count`);
  const buffers = new Map(model.namedBuffers());
  for (const [name, b] of Object.entries(c.buffers ?? {})) {
    assertClose(await buffers.get(name)!.data(), Float32Array.from(b.data), 1e-4, 1e-6, `${c.name}: buffer ${name}`);
  }
  assert.is(buffers.size, Object.keys(c.buffers ?? {}).length, `${c.name}: buffer count`);
  model.eval();
  const evalLogits = tidy(() => forward(x));
  assertClose(await evalLogits.data(), Float32Array.from(c.evalLogits!.data), 1e-4, 1e-5, `${c.name}: eval logits`);
  for (const t of [x, y, logits, loss, evalLogits]) t.dispose();
  model.dispose();
}

test('stand-alone network forward, backward, BN buffers and eval mode equal PyTorch', async () => {
  const c = cases.find((k) => k.kind === 'network')!;
  const net = new Nb201Network(be, new Rng(5), { C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses, genotype: parseGenotype(c.genotype!) });
  await checkCase(c, net, (x) => net.forward(x));
});

/** θ = softmax of α over the enabled ops (host, float64), as the golden computes it. */
function maskedSoftmax(alpha: Float32Array, mask: number[][]): Float32Array {
  const out = new Float32Array(30);
  for (let e = 0; e < 6; e++) {
    let max = -Infinity, sum = 0;
    for (let o = 0; o < 5; o++) if (mask[e][o]) max = Math.max(max, alpha[e * 5 + o]);
    for (let o = 0; o < 5; o++) if (mask[e][o]) sum += Math.exp(alpha[e * 5 + o] - max);
    for (let o = 0; o < 5; o++) out[e * 5 + o] = mask[e][o] ? Math.exp(alpha[e * 5 + o] - max) / sum : 0;
  }
  return out;
}

for (const track of [true, false]) {
  test(`supernet mixed forward under a mask equals PyTorch (cell BN tracking ${track})`, async () => {
    const c = cases.find((k) => k.kind === 'supernet-darts' && k.trackCellStats === track)!;
    const mask = maskFromRows(c.mask!.map((r) => r.map((v) => v === 1)));
    const s = new Nb201Supernet(be, new Rng(6), { C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses, trackCellStats: track, mask });
    const theta = Tensor.fromArray(be, maskedSoftmax(scaledValues('alpha', 30, c.alphaScale!), c.mask!), [6, 5]);
    await checkCase(c, s, (x) => s.forward(x, mixedSample(mask, theta)));
    theta.dispose();
  });
}

test.run();
