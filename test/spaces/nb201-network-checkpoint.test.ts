// Checkpoints: bit-exact round trips of the stand-alone network, the supernet and a method's search
// state through safetensors files; num_batches_tracked as an I64 scalar; clear errors for files that
// do not match the model.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng, tidy, backward, crossEntropy, BatchNorm2d } from '../../src/engine/index.js';
import { Nb201Network } from '../../src/spaces/nb201/network.js';
import { Nb201Supernet, mixedSample } from '../../src/spaces/nb201/supernet.js';
import { encodeNetworkCheckpoint, decodeNetworkCheckpoint, loadNetworkInto, encodeSupernetCheckpoint, decodeSupernetCheckpoint } from '../../src/spaces/nb201/checkpoint.js';
import { decodeSafetensors, encodeSafetensors } from '../../src/io/safetensors.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { fullMask, restrictMask, maskToString } from '../../src/spaces/nb201/ops.js';
import {
  saveNetworkCheckpoint, loadNetworkCheckpoint, saveSupernetCheckpoint, loadSupernetCheckpoint, saveMethodCheckpoint,
  loadMethodCheckpoint,
} from '../../src/search/checkpoints.js';
import { createBaseMethod } from '../../src/search/index.js';

const be = new CpuBackend();
const SIZE = { C: 4, N: 1, inputChannels: 1, numClasses: 3 };
const G = parseGenotype('|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|');
const dir = mkdtempSync(join(tmpdir(), 'gmnas-ckpt-'));

function batch(): { x: Tensor; y: Tensor } {
  const r = new Rng(3);
  return {
    x: Tensor.fromArray(be, new Float32Array(4 * 8 * 8).map(() => r.normal()), [4, 1, 8, 8]),
    y: Tensor.fromArray(be, [0, 1, 2, 0], [4]),
  };
}

/** A network whose running statistics and batch counts have moved (two train-mode steps). */
function trainedNetwork(): Nb201Network {
  const net = new Nb201Network(be, new Rng(1), { ...SIZE, genotype: G });
  const { x, y } = batch();
  for (let k = 0; k < 2; k++) tidy(() => backward(crossEntropy(net.forward(x), y)));
  return net;
}

async function assertSameState(a: Nb201Network | Nb201Supernet, b: Nb201Network | Nb201Supernet): Promise<void> {
  const sb = new Map(b.stateDict());
  for (const [name, t] of a.stateDict()) {
    const u = sb.get(name);
    assert.ok(u, `missing ${name}`);
    assert.equal(new Uint32Array((await u!.data()).buffer), new Uint32Array((await t.data()).buffer), `${name} differs`);
  }
  const bnB = new Map(b.namedModules().filter(([, m]) => m instanceof BatchNorm2d) as [string, BatchNorm2d][]);
  for (const [path, m] of a.namedModules()) {
    if (m instanceof BatchNorm2d) assert.is(bnB.get(path)!.numBatchesTracked, m.numBatchesTracked, `${path}.num_batches_tracked`);
  }
}

test('network round trip is bit-exact, with num_batches_tracked as an I64 scalar', async () => {
  const net = trainedNetwork();
  const bytes = await encodeNetworkCheckpoint(net, { note: 'test' });
  const { tensors, metadata } = decodeSafetensors(bytes, 'mem');
  const nbt = tensors.get('stem.1.num_batches_tracked')!;
  assert.equal([nbt.dtype, nbt.shape, Array.from(nbt.data)], ['I64', [], [2]]);
  assert.is(tensors.get('stem.0.weight')!.dtype, 'F32');
  assert.equal(tensors.get('cells.0.layers.0.op.1.weight')!.shape, [4, 4, 3, 3]);
  assert.is(metadata.genotype, net.genotypeString);
  assert.is(metadata.note, 'test');
  const { network } = decodeNetworkCheckpoint(be, new Rng(77), bytes, 'mem');
  await assertSameState(net, network as Nb201Network);
  // and it computes the same thing
  const { x } = batch();
  net.eval(); network.eval();
  const [a, b] = tidy(() => [net.forward(x), network.forward(x)]);
  assert.equal(Array.from(await a.data()), Array.from(await b.data()));
  net.dispose(); network.dispose();
});

test('network checkpoint files are written atomically and load back', async () => {
  const net = trainedNetwork();
  const path = join(dir, 'model.safetensors');
  await saveNetworkCheckpoint(path, net);
  assert.equal(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  const { network, metadata } = loadNetworkCheckpoint(path, be, new Rng(5));
  assert.is(metadata.format, 'gmnas.nb201.network/1');
  assert.equal(network.config.genotype, G);
  await assertSameState(net, network as Nb201Network);
  assert.throws(() => loadNetworkCheckpoint(join(dir, 'absent.safetensors'), be, new Rng(1)), /absent\.safetensors/);
  net.dispose(); network.dispose();
});

test('mismatched checkpoints are refused with what is wrong', async () => {
  const net = trainedNetwork();
  const bytes = await encodeNetworkCheckpoint(net);
  const other = new Nb201Network(be, new Rng(1), { ...SIZE, genotype: parseGenotype('|nor_conv_1x1~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|') });
  assert.throws(() => loadNetworkInto(other, bytes, 'a.safetensors'), /a\.safetensors: checkpoint genotype/);
  // drop a tensor, rename another, change a shape: each is named
  const { tensors, metadata } = decodeSafetensors(bytes, 'mem');
  const inputs = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.dtype === 'I64' ? BigInt64Array.from(t.data, (v) => BigInt(v)) : t.data }));
  const broken = inputs.filter((t) => t.name !== 'classifier.bias').map((t) => (t.name === 'lastact.0.bias' ? { ...t, name: 'lastact.0.beta' } : t));
  const bad = encodeSafetensors(broken, metadata);
  assert.throws(() => decodeNetworkCheckpoint(be, new Rng(1), bad, 'b.safetensors'), /b\.safetensors: checkpoint does not match the model: missing .*classifier\.bias.*unexpected lastact\.0\.beta/);
  const wrongShape = encodeSafetensors(inputs.map((t) => (t.name === 'classifier.bias' ? { ...t, shape: [1, 3] } : t)), metadata);
  assert.throws(() => decodeNetworkCheckpoint(be, new Rng(1), wrongShape, 'c'), /shape mismatch classifier\.bias \(file \[1, 3\], model \[3\]\)/);
  const badMeta = encodeSafetensors(inputs, { ...metadata, genotype: '|bogus~0|' });
  assert.throws(() => decodeNetworkCheckpoint(be, new Rng(1), badMeta, 'd'), /d: metadata 'genotype'/);
  net.dispose(); other.dispose();
});

test('supernet round trip keeps its mask, state and extra tensors', async () => {
  const mask = restrictMask(fullMask(), 2, [1, 3]);
  const s = new Nb201Supernet(be, new Rng(2), { ...SIZE, trackCellStats: true, mask });
  const { x, y } = batch();
  const w = Tensor.fromArray(be, new Float32Array(30).fill(0.2), [6, 5]);
  tidy(() => backward(crossEntropy(s.forward(x, mixedSample(mask, w)), y)));
  const alpha = Float32Array.from({ length: 30 }, (_, i) => i / 10);
  const bytes = await encodeSupernetCheckpoint(s, [{ name: 'arch_parameters', shape: [6, 5], data: alpha }]);
  const { supernet, extra, metadata } = decodeSupernetCheckpoint(be, new Rng(9), bytes, 'mem');
  assert.is(metadata.mask, maskToString(mask));
  assert.is(maskToString(supernet.mask), maskToString(mask));
  assert.equal(Array.from(extra.get('arch_parameters')!.data), Array.from(alpha));
  await assertSameState(s, supernet);
  // non-tracking cell BNs have no running statistics in the file
  const r = new Nb201Supernet(be, new Rng(2), { ...SIZE, trackCellStats: false });
  const path = join(dir, 'supernet.safetensors');
  await saveSupernetCheckpoint(path, r);
  const names = [...decodeSafetensors(new Uint8Array(readFileSync(path)), path).tensors.keys()];
  assert.not.ok(names.some((n) => n.startsWith('cells.0.edges.') && n.includes('running')));
  assert.ok(names.includes('cells.1.conv_a.op.2.num_batches_tracked'));
  const back = loadSupernetCheckpoint(path, be, new Rng(3));
  assert.is(back.supernet.config.trackCellStats, false);
  for (const m of [s, supernet, r, back.supernet]) m.dispose();
});

test('a method checkpoint restores the search state', async () => {
  const mask = restrictMask(fullMask(), 0, [1, 2, 3]);
  const make = (seed: number) => createBaseMethod('darts', { backend: be, sizes: { C: 4, N: 1, inputChannels: 1, numClasses: 3 }, imageShape: [1, 8, 8], mask, seed });
  const a = make(1);
  const src = { next: () => { const r = new Rng(4); return { x: new Float32Array(4 * 64).map(() => r.normal()), y: Float32Array.from([0, 1, 2, 0]), n: 4 }; } };
  await a.trainEpoch({ steps: 2, train: src, valid: src, updateArch: true });
  const path = join(dir, 'search.safetensors');
  await saveMethodCheckpoint(path, a, { epoch: '1' });
  const b = make(2);
  // optimizer state travels with the checkpoint now (exactness: test/search/resume-exact.test.ts)
  const meta = loadMethodCheckpoint(path, b);
  assert.is(meta.epoch, '1');
  assert.equal(Array.from(await b.alphaValues()), Array.from(await a.alphaValues()));
  assert.equal((await b.derive()).genotype, (await a.derive()).genotype);
  const wrong = createBaseMethod('darts', { backend: be, sizes: { C: 4, N: 1, inputChannels: 1, numClasses: 3 }, imageShape: [1, 8, 8], seed: 1 });
  assert.throws(() => loadMethodCheckpoint(path, wrong, { allowOptimizerReset: true }), /mask/);
  for (const m of [a, b, wrong]) m.dispose();
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
