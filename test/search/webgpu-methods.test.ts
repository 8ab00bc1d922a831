// The supernet and the base methods on WebGPU against the CPU reference: the golden networks' forward
// and backward, and a few training steps of every method (same seed ⇒ same numbers up to f32 rounding).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testBackends, assertClose } from '../helpers/backends.js';
import type { Backend } from '../../src/engine/backend.js';
import { Tensor, Rng as EngineRng, tidy, backward, crossEntropy } from '../../src/engine/index.js';
import { Nb201Supernet, mixedSample } from '../../src/spaces/nb201/supernet.js';
import { nb201Space } from '../../src/spaces/nb201/space.js';
import { maskFromRows } from '../../src/spaces/nb201/ops.js';
import { createBaseMethod, maskBias, maskedSoftmax, type HostBatch } from '../../src/search/index.js';
import { Rng } from '../../src/data/rng.js';
import { readGolden, fillRecipe, scaledValues } from './nb201-recipe.js';

const { cpu, gpu } = await testBackends();

function source(seed: number): { next(): HostBatch } {
  const r = new Rng(seed);
  return { next: () => { const y = new Float32Array(8).map(() => r.int(4)); return { x: new Float32Array(8 * 3 * 64).map(() => r.normal()), y, n: 8 }; } };
}

async function goldenOn(be: Backend): Promise<{ logits: Float32Array; alphaGrad: Float32Array; grads: Float32Array[] }> {
  const c = readGolden<{ cases: any[] }>('nb201-forward.json').cases.find((k) => k.kind === 'supernet-darts' && k.trackCellStats);
  const mask = maskFromRows(c.mask.map((r: number[]) => r.map((v) => v === 1)));
  const s = new Nb201Supernet(be, new EngineRng(1), { C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses, trackCellStats: true, mask });
  fillRecipe(s);
  const x = Tensor.fromArray(be, scaledValues('input', c.batch * c.H * c.W, 1), [c.batch, 1, c.H, c.W]);
  const y = Tensor.fromArray(be, [0, 1, 2, 3], [4]);
  const alpha = Tensor.fromArray(be, scaledValues('alpha', 30, c.alphaScale), [6, 5]).param('alpha');
  const logits = tidy(() => {
    const l = s.forward(x, mixedSample(mask, maskedSoftmax(alpha, maskBias(be, mask, nb201Space))));
    backward(crossEntropy(l, y));
    return l;
  });
  const out = { logits: await logits.data(), alphaGrad: await alpha.grad!.data(), grads: await Promise.all(s.parameters().filter((p) => p.grad).map((p) => p.grad!.data())) };
  s.dispose();
  return out;
}

test('masked DARTS supernet forward/backward: WebGPU equals CPU', async () => {
  if (!gpu) return;
  const [a, b] = [await goldenOn(cpu), await goldenOn(gpu)];
  assertClose(b.logits, a.logits, 1e-4, 1e-5, 'logits');
  assertClose(b.alphaGrad, a.alphaGrad, 1e-3, 1e-6, 'α gradient');
  assert.is(b.grads.length, a.grads.length);
  a.grads.forEach((g, i) => assertClose(b.grads[i], g, 2e-3, 1e-4 * Math.max(...g.map(Math.abs)), `grad ${i}`));
});

for (const name of ['darts', 'darts2', 'snas', 'rsps', 'gdas'] as const) {
  test(`${name}: two training steps on WebGPU match the CPU reference`, async () => {
    if (!gpu) return;
    const run = async (be: Backend) => {
      const m = createBaseMethod(name, { backend: be, sizes: { C: 4, N: 1, inputChannels: 3, numClasses: 4 }, imageShape: [3, 8, 8], seed: 2 });
      m.setEpoch(0, 4);
      const stats = await m.trainEpoch({ steps: 2, train: source(1), valid: source(2), updateArch: true });
      const out = { stats, alpha: await m.alphaValues(), stem: await (m.supernet as Nb201Supernet).stem.parameters()[0].data() };
      m.dispose();
      return out;
    };
    const [a, b] = [await run(cpu), await run(gpu)];
    assert.ok(Math.abs(a.stats.loss - b.stats.loss) < 1e-4, `loss ${a.stats.loss} vs ${b.stats.loss}`);
    assertClose(b.alpha, a.alpha, 1e-4, 2e-6, 'α');
    assertClose(b.stem, a.stem, 1e-3, 1e-5, 'stem weights');
  });
}

test.run();
