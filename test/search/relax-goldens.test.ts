// The architecture relaxations against PyTorch (test/goldens/nb201-forward.json): the α gradient of
// the masked DARTS softmax, and GDAS's hard straight-through forward (ADL forward_gdas) with its α and
// weight gradients — and the host-side helpers (argmax, Gumbel noise, GDAS index).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, Rng as EngineRng, tidy, backward, crossEntropy } from '../../src/engine/index.js';
import { Nb201Supernet, mixedSample } from '../../src/spaces/nb201/supernet.js';
import { maskFromRows, enabledOps, fullMask, restrictMask } from '../../src/spaces/nb201/ops.js';
import { nb201Space } from '../../src/spaces/nb201/space.js';
import { maskBias, maskedSoftmax, gdasHardWeights, gdasIndex, maskedArgmax, gumbelNoise } from '../../src/search/relax.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose } from '../helpers/backends.js';
import { readGolden, fillRecipe, scaledValues, type GoldenTensor } from './nb201-recipe.js';

const be = new CpuBackend();
const cases = readGolden<{ cases: any[] }>('nb201-forward.json').cases;

function setup(c: any): { s: Nb201Supernet; x: Tensor; y: Tensor; alpha: Tensor; mask: Uint8Array } {
  const mask = maskFromRows(c.mask.map((r: number[]) => r.map((v) => v === 1)));
  const s = new Nb201Supernet(be, new EngineRng(1), { C: c.C, N: c.N, inputChannels: c.inputChannels, numClasses: c.numClasses, trackCellStats: c.trackCellStats, mask });
  fillRecipe(s);
  const x = Tensor.fromArray(be, scaledValues('input', c.batch * c.inputChannels * c.H * c.W, 1), [c.batch, c.inputChannels, c.H, c.W]);
  const y = Tensor.fromArray(be, Array.from({ length: c.batch }, (_, i) => i % c.numClasses), [c.batch]);
  const alpha = Tensor.fromArray(be, scaledValues('alpha', 30, c.alphaScale), [6, 5]).param('alpha');
  return { s, x, y, alpha, mask };
}

function assertGrad(actual: Float32Array, g: GoldenTensor, label: string): void {
  const scale = Math.max(...g.data.map(Math.abs));
  assertClose(actual, Float32Array.from(g.data), 2e-3, Math.max(2e-4 * scale, 1e-7), label);
}

test('DARTS masked softmax: α gradient equals PyTorch', async () => {
  for (const c of cases.filter((k) => k.kind === 'supernet-darts')) {
    const { s, x, y, alpha, mask } = setup(c);
    const logits = tidy(() => {
      const bias = maskBias(be, mask, nb201Space);
      const logits = s.forward(x, mixedSample(mask, maskedSoftmax(alpha, bias)));
      backward(crossEntropy(logits, y));
      return logits;
    });
    assertClose(await logits.data(), Float32Array.from(c.logits.data), 1e-4, 1e-5, `${c.name}: logits`);
    const g = await alpha.grad!.data();
    assertGrad(g, c.alphaGrad, `${c.name}: α gradient`);
    // masked entries: exactly zero
    for (let i = 0; i < 30; i++) if (!mask[i]) assert.is(g[i], 0);
    s.dispose();
  }
});

test('GDAS hard straight-through forward: index, logits, α and weight gradients equal PyTorch', async () => {
  const c = cases.find((k) => k.kind === 'supernet-gdas')!;
  const { s, x, y, alpha, mask } = setup(c);
  const noiseHost = scaledValues('gumbel', 30, c.gumbelScale);
  const index = gdasIndex(await alpha.data(), noiseHost, mask, nb201Space);
  assert.equal(index, c.index);
  const { logits, weights } = tidy(() => {
    const bias = maskBias(be, mask, nb201Space);
    const weights = gdasHardWeights(alpha, bias, Tensor.fromArray(be, noiseHost, [6, 5]), c.tau, index);
    const weightOnly = index.map((op, e) => enabledOps(mask, e).filter((k) => k !== op));
    const logits = s.forward(x, { ops: index.map((op) => [op]), weights, weightOnly });
    backward(crossEntropy(logits, y));
    return { logits, weights };
  });
  // the hard weights are exactly one-hot in value
  const w = await weights.data();
  for (let e = 0; e < 6; e++) for (let o = 0; o < 5; o++) assert.is(w[e * 5 + o], o === index[e] ? 1 : 0);
  assertClose(await logits.data(), Float32Array.from(c.logits.data), 1e-4, 1e-5, 'gdas logits');
  assertGrad(await alpha.grad!.data(), c.alphaGrad, 'gdas α gradient');
  const params = new Map(s.namedParameters());
  for (const [name, g] of Object.entries(c.grads as Record<string, GoldenTensor>)) {
    assertGrad(await params.get(name)!.grad!.data(), g, `gdas grad ${name}`);
  }
  // parameters off the chosen path get nothing
  const withGrad = [...params.values()].filter((p) => p.grad).length;
  assert.is(withGrad, Object.keys(c.grads).length);
  s.dispose();
});

test('maskedArgmax: first maximum among enabled ops, none included', () => {
  const mask = restrictMask(fullMask(), 1, [2, 4]);
  const v = new Float32Array(30);
  v[0 * 5 + 0] = 3; v[0 * 5 + 3] = 3; // tie on edge 0: the first (none) wins
  v[1 * 5 + 0] = 9; v[1 * 5 + 4] = 1; v[1 * 5 + 2] = 0.5; // none is masked on edge 1
  v[2 * 5 + 1] = -1; v[2 * 5 + 2] = -2; for (const o of [0, 3, 4]) v[2 * 5 + o] = -3;
  assert.equal(maskedArgmax(v, mask, nb201Space), [0, 4, 1, 0, 0, 0]);
  assert.throws(() => maskedArgmax(new Float32Array(29), mask, nb201Space), /30 values/);
});

test('Gumbel noise has the standard Gumbel mean (Euler–Mascheroni) and variance π²/6', () => {
  const g = gumbelNoise(new Rng(5), 200_000);
  let m = 0, v = 0;
  for (const x of g) m += x;
  m /= g.length;
  for (const x of g) v += (x - m) ** 2;
  v /= g.length;
  assert.ok(Math.abs(m - 0.5772156649) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v - Math.PI ** 2 / 6) < 0.03, `variance ${v}`);
});

test.run();
