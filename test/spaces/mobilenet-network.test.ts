// The MobileNet (ProxylessNAS) stand-alone network against PyTorch (scripts/goldens/make_mobilenet_goldens.py):
// state_dict names and shapes in order (strict), parameter and multiply-add counts (forward hooks) at
// four sizes, and a tiny network's (width 0.25, 64×64) train-mode logits, loss, gradients, BN buffers and eval logits with
// deterministic weights (on the CPU backend, and on WebGPU when an adapter is there); one MBConv block
// (expand 6, 5×5 depthwise, stride 2) forward and backward; genotype text and checkpoint round trips.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/engine/backend.js';
import { Tensor, Rng, tidy, backward, crossEntropy, sum, mul } from '../../src/engine/index.js';
import { MobileNetNetwork, MobileBlock } from '../../src/spaces/mobilenet/network.js';
import { parseGenotype, formatGenotype, ZERO_ALLOWED } from '../../src/spaces/mobilenet/genotype.js';
import { parseOp } from '../../src/spaces/mobilenet/ops.js';
import { macroLayout, makeDivisible } from '../../src/spaces/mobilenet/layout.js';
import { mobileNetCost } from '../../src/spaces/mobilenet/cost.js';
import { encodeMobileNetCheckpoint, decodeMobileNetCheckpoint } from '../../src/spaces/mobilenet/checkpoint.js';
import { moduleStateKeys } from '../../src/spaces/nb201/checkpoint.js';
import { countParameters } from '../../src/spaces/nb201/params.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { assertClose, testBackends } from '../helpers/backends.js';
import { readGolden, fillRecipe, scaledValues, type GoldenTensor } from '../search/nb201-recipe.js';

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

interface KeyConfig {
  genotype: string[]; widthMult: number; resolution: number; inputChannels: number; numClasses: number;
  params: number; macs: number; keys: [string, number[]][];
}

test('genotype text: round trip, one name per line, and one-line errors', () => {
  const names = readGolden<{ configs: KeyConfig[] }>('mobilenet-state-dict-keys.json').configs[0].genotype;
  const g = parseGenotype(names.join(','));
  assert.is(formatGenotype(g), names.join(','));
  assert.is(formatGenotype(parseGenotype(`\n${names.join('\n')}\n`)), names.join(','));
  assert.is(formatGenotype(parseGenotype(names.join(' , '))), names.join(','));
  assert.throws(() => parseGenotype(''), /empty MobileNet genotype/);
  assert.throws(() => parseGenotype(names.slice(1).join(',')), /has 20 op names; expected 21/);
  assert.throws(() => parseGenotype(['3x3_MBConv4', ...names.slice(1)].join(',')), /block 0: unknown MobileNet op '3x3_MBConv4'/);
  assert.throws(() => parseGenotype(['zero', ...names.slice(1)].join(',')), /block 0 is 'zero' but has no identity shortcut/);
  assert.throws(() => parseGenotype([...names.slice(0, 20), 'zero'].join(',')), /block 20 is 'zero'/);
  assert.throws(() => parseOp('3x5_MBConv3'), /unknown MobileNet op/);
  // 15 of 21 blocks have an identity shortcut: all but the first of stages 1-5 and the single block of stage 6
  assert.is(ZERO_ALLOWED.filter(Boolean).length, 15);
  assert.equal(ZERO_ALLOWED.map((z, i) => (z ? -1 : i)).filter((i) => i >= 0), [0, 4, 8, 12, 16, 20]);
});

test('make_divisible and the layout follow ProxylessNAS (widths, strides, feature mix)', () => {
  assert.equal([makeDivisible(32 * 0.25), makeDivisible(40 * 0.25), makeDivisible(24 * 0.35), makeDivisible(1280 * 1.4)], [8, 16, 8, 1792]);
  const L = macroLayout(1);
  assert.equal([L.firstConv, L.firstBlock, L.featureMix], [32, 16, 1280]);
  assert.equal(L.blocks.map((b) => b.stride), [2, 1, 1, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]);
  assert.equal([...new Set(L.blocks.map((b) => b.cout))], [24, 40, 80, 96, 192, 320]);
});

test('state_dict names and shapes (strict, in order), parameters and multiply-adds equal PyTorch', () => {
  for (const c of readGolden<{ configs: KeyConfig[] }>('mobilenet-state-dict-keys.json').configs) {
    const label = `width ${c.widthMult}, ${c.inputChannels} in, ${c.numClasses} classes`;
    const genotype = parseGenotype(c.genotype.join(','));
    const size = { widthMult: c.widthMult, inputChannels: c.inputChannels, numClasses: c.numClasses };
    const net = new MobileNetNetwork(cpu, new Rng(1), { ...size, genotype });
    assert.equal(moduleStateKeys(net).map((k) => [k.name, k.shape]), c.keys, label);
    assert.is(countParameters(net), c.params, `${label}: built parameters`);
    const cost = mobileNetCost(genotype, size, c.resolution);
    assert.is(cost.params, c.params, `${label}: closed-form parameters`);
    assert.is(cost.macs, c.macs, `${label}: multiply-adds at ${c.resolution}`);
    net.dispose();
  }
});

interface NetworkCase {
  name: string; genotype: string[]; widthMult: number; inputChannels: number; numClasses: number;
  batch: number; resolution: number; inputScale: number; logits: GoldenTensor; loss: number;
  grads: Record<string, GoldenTensor>; gradStats: Record<string, [number, number]>;
  buffers: Record<string, GoldenTensor>; bufferStats: Record<string, [number, number]>; evalLogits: GoldenTensor;
}
interface BlockCase {
  name: string; op: string; cin: number; cout: number; stride: number; inputScale: number; input: number[];
  out: GoldenTensor; dx: GoldenTensor; grads: Record<string, GoldenTensor>;
}
const golden = readGolden<{ cases: (NetworkCase | BlockCase)[] }>('mobilenet-forward.json').cases;
const netCase = golden.find((c) => c.name === 'network') as NetworkCase;
const blockCase = golden.find((c) => c.name !== 'network') as BlockCase;

/** Sum and L2 norm of a tensor against PyTorch's (float64) values; `floor` is an absolute tolerance for
 *  tensors whose true value is ~0 (a BN bias right before another BN gets no gradient in exact arithmetic). */
function assertStats(a: Float32Array, [s, n]: [number, number], tol: number, floor: number, label: string): void {
  let as = 0, an = 0;
  for (const v of a) { as += v; an += v * v; }
  an = Math.sqrt(an);
  if (!(Math.abs(an - n) <= tol * n + floor)) assert.unreachable(`${label}: norm ${an}, PyTorch ${n}`);
  if (!(Math.abs(as - s) <= tol * Math.sqrt(a.length) * n + floor)) assert.unreachable(`${label}: sum ${as}, PyTorch ${s}`);
}

async function checkNetworkCase(be: Backend, tol: number): Promise<void> {
  const c = netCase;
  const net = new MobileNetNetwork(be, new Rng(5), {
    genotype: parseGenotype(c.genotype.join(',')), widthMult: c.widthMult, inputChannels: c.inputChannels, numClasses: c.numClasses,
  });
  fillRecipe(net);
  const n = c.batch * c.inputChannels * c.resolution ** 2;
  const x = Tensor.fromArray(be, scaledValues('input', n, c.inputScale), [c.batch, c.inputChannels, c.resolution, c.resolution]);
  const y = Tensor.fromArray(be, Array.from({ length: c.batch }, (_, i) => i % c.numClasses), [c.batch]);
  net.train();
  const { logits, loss } = tidy(() => {
    const logits = net.forward(x);
    const loss = crossEntropy(logits, y);
    backward(loss);
    return { logits, loss };
  });
  const where = `${be.kind}`;
  assertClose(await logits.data(), Float32Array.from(c.logits.data), 10 * tol, tol, `${where}: logits`);
  assert.ok(Math.abs((await loss.data())[0] - c.loss) < 10 * tol, `${where}: loss`);
  const params = new Map(net.namedParameters());
  assert.is(params.size, Object.keys(c.gradStats).length, `${where}: parameter count`);
  const gradFloor = tol * Math.max(...Object.values(c.gradStats).map(([, norm]) => norm));
  for (const [name, st] of Object.entries(c.gradStats)) {
    const p = params.get(name);
    assert.ok(p?.grad, `${where}: ${name} has no gradient`);
    const g = await p!.grad!.data();
    assertStats(g, st, 20 * tol, gradFloor, `${where}: grad ${name}`);
    const full = c.grads[name];
    if (full) {
      const scale = Math.max(...full.data.map(Math.abs));
      assertClose(g, Float32Array.from(full.data), 20 * tol, Math.max(2 * tol * scale, 1e-7), `${where}: grad ${name}`);
    }
  }
  const buffers = new Map(net.namedBuffers());
  assert.is(buffers.size, Object.keys(c.bufferStats).length, `${where}: buffer count`);
  for (const [name, st] of Object.entries(c.bufferStats)) {
    const b = await buffers.get(name)!.data();
    assertStats(b, st, 10 * tol, tol, `${where}: buffer ${name}`);
    if (c.buffers[name]) assertClose(b, Float32Array.from(c.buffers[name].data), 10 * tol, tol, `${where}: buffer ${name}`);
  }
  // one training step counted on every BN (PyTorch's num_batches_tracked)
  const keys = moduleStateKeys(net).filter((k) => k.name.endsWith('num_batches_tracked'));
  assert.is(keys.length, buffers.size / 2);
  net.eval();
  const evalLogits = tidy(() => net.forward(x));
  assertClose(await evalLogits.data(), Float32Array.from(c.evalLogits.data), 10 * tol, tol, `${where}: eval logits`);
  for (const t of [x, y, logits, loss, evalLogits]) t.dispose();
  net.dispose();
}

test('tiny network (width 0.25, 64×64, every op kind and zero): train/eval forward, gradients, BN buffers equal PyTorch (CPU)', async () => {
  await checkNetworkCase(cpu, 1e-5);
});

test('the same network on WebGPU equals PyTorch (looser f32 tolerance)', async () => {
  if (!gpu) return;
  await checkNetworkCase(gpu, 1e-4);
});

test('one MBConv block (5x5_MBConv6, stride 2, 8 → 16) forward and backward equal PyTorch', async () => {
  const c = blockCase;
  const L = { index: 0, stage: 0, cin: c.cin, cout: c.cout, stride: c.stride, identity: false };
  for (const be of gpu ? [cpu, gpu] : [cpu]) {
    const blk = new MobileBlock(be, new Rng(3), L, parseOp(c.op) as never);
    fillRecipe(blk);
    const n = c.input.reduce((a, b) => a * b, 1);
    const x = Tensor.fromArray(be, scaledValues('block input', n, c.inputScale), c.input).param('x');
    const out = tidy(() => {
      const out = blk.forward(x);
      const dy = Tensor.fromArray(be, scaledValues('block dy', out.size, 1), out.shape);
      backward(sum(mul(out, dy)));
      return out;
    });
    const tol = be.kind === 'cpu' ? 1e-5 : 1e-4;
    assertClose(await out.data(), Float32Array.from(c.out.data), 10 * tol, tol, `${be.kind}: block out`);
    const dxScale = Math.max(...c.dx.data.map(Math.abs));
    assertClose(await x.grad!.data(), Float32Array.from(c.dx.data), 20 * tol, 2 * tol * dxScale, `${be.kind}: block dx`);
    const params = new Map(blk.namedParameters());
    assert.is(params.size, Object.keys(c.grads).length);
    for (const [name, g] of Object.entries(c.grads)) {
      const scale = Math.max(...g.data.map(Math.abs));
      assertClose(await params.get(name)!.grad!.data(), Float32Array.from(g.data), 20 * tol, Math.max(2 * tol * scale, 1e-7), `${be.kind}: block grad ${name}`);
    }
    x.grad?.dispose(); x.dispose(); out.dispose(); blk.dispose();
  }
});

test('checkpoint: ProxylessNAS names, metadata round trip, same eval logits; strict loading errors', async () => {
  const genotype = parseGenotype(netCase.genotype.join(','));
  const cfg = { genotype, widthMult: 0.25, inputChannels: 3, numClasses: 5 };
  const net = new MobileNetNetwork(cpu, new Rng(9), cfg);
  fillRecipe(net);
  net.eval();
  const x = Tensor.fromArray(cpu, scaledValues('input', 2 * 3 * 32 * 32, 2), [2, 3, 32, 32]);
  const want = await tidy(() => net.forward(x)).data();
  const bytes = await encodeMobileNetCheckpoint(net, { resolution: '32' });
  const { tensors, metadata } = decodeSafetensors(bytes, 'net.safetensors');
  assert.is(metadata.genotype, formatGenotype(genotype));
  assert.is(metadata.resolution, '32');
  assert.ok(tensors.has('blocks.21.mobile_inverted_conv.point_linear.bn.num_batches_tracked'));
  assert.ok(tensors.has('classifier.linear.weight'));
  const { network } = decodeMobileNetCheckpoint(cpu, new Rng(10), bytes, 'net.safetensors');
  network.eval();
  assertClose(await tidy(() => network.forward(x)).data(), want, 0, 0, 'reloaded eval logits');
  network.dispose();
  // a missing tensor, a wrong format
  const fewer = [...tensors].filter(([k]) => k !== 'first_conv.bn.running_var')
    .map(([name, t]) => ({ name, shape: t.shape, data: t.dtype === 'I64' ? BigInt64Array.of(BigInt(t.data[0])) : t.data }));
  assert.throws(() => decodeMobileNetCheckpoint(cpu, new Rng(1), encodeSafetensors(fewer, metadata), 'f.safetensors'),
    /f\.safetensors: checkpoint does not match the model: missing first_conv\.bn\.running_var/);
  assert.throws(() => decodeMobileNetCheckpoint(cpu, new Rng(1), encodeSafetensors(fewer, { ...metadata, format: 'x' }), 'g.safetensors'),
    /g\.safetensors: metadata 'format' is "x"/);
  x.dispose(); net.dispose();
});

test('closed-form cost: zero blocks cost nothing, width and resolution scale it, bad flags are one-line errors', () => {
  const all6 = parseGenotype(Array(21).fill('7x7_MBConv6').join(','));
  const withZero = parseGenotype(Array.from({ length: 21 }, (_, i) => (ZERO_ALLOWED[i] ? 'zero' : '7x7_MBConv6')).join(','));
  const size = { widthMult: 1, inputChannels: 3, numClasses: 1000 };
  const a = mobileNetCost(all6, size, 224), z = mobileNetCost(withZero, size, 224);
  assert.ok(z.params < a.params && z.macs < a.macs);
  assert.ok(mobileNetCost(all6, size, 112).macs < a.macs / 3.5);
  assert.ok(mobileNetCost(all6, { ...size, widthMult: 0.5 }, 224).params < a.params / 2);
  assert.throws(() => mobileNetCost(all6, { ...size, widthMult: 0 }, 224), /--width-mult 0: expected a number in \(0, 4\]/);
  assert.throws(() => mobileNetCost(all6, size, 0), /--resolution 0: expected an integer/);
});

test.run();
