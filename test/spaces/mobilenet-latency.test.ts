// The latency lookup table (src/nas/latency-table.ts, SearchSpace.latencyProbes, `--latency-target`):
//  - built on the CPU backend: one positive entry per (block, candidate MBConv), 0 for `zero`, none
//    where a block cannot take the column — the same pattern as the independent multiply-add model
//    (opMacs: NaN / 0 / > 0) — and the probes chain: each block's probes give the next block's input
//    shape, the stem the first block's, the last block the head's, the head [1, classes];
//  - through the method with a fixed synthetic table: E_lat(α) equals the expectation computed here,
//    and with 'add#linear' the α gradient is the binary-gate one plus the central differences of
//    λ·(E_lat(α) − T)/T on the blocks that have a gradient (same draw);
//  - a tiny search measures the table once, keeps it in result.json's config and shows it in the report;
//  - bad flags fail naming the flag. No timing assertions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Tensor, tidy, noGrad, keep } from '../../src/engine/index.js';
import { Rng } from '../../src/data/rng.js';
import { getSpace } from '../../src/spaces/registry.js';
import { defaultSearchConfig, validateSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { measureLatencyTable, latencyCosts } from '../../src/nas/latency-table.js';
import { runSearch } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { renderReport } from '../../src/report/html.js';
import { scaledValues } from '../search/nb201-recipe.js';
import { checkGateGradient, proxylessFixture } from '../helpers/gate-gradients.js';

const be = new CpuBackend();
const space = getSpace('mobilenet');
const { rows, cols } = space;
const SIZES = { C: 4, N: 1, inputChannels: 1, numClasses: 3 };
const RES = 16;
const enabled = (d: number) => space.enabledOps(space.fullMask(), d);
const { make, batch } = proxylessFixture(be, space, SIZES, RES);

test('a table built on the CPU backend: one positive entry per (block, op), 0 for zero, the multiply-add model\'s pattern', async () => {
  const t = await measureLatencyTable(be, space, SIZES, RES, { device: 'cpu', repeats: 1 });
  const macs = space.opMacs!(SIZES, RES);
  assert.is(t.ops.length, rows);
  assert.is(t.fixedParts.length, 2);
  assert.ok(t.fixedParts.every((p) => p.ms > 0));
  assert.ok(Math.abs(t.fixed - t.fixedParts[0].ms - t.fixedParts[1].ms) < 1e-12);
  let positive = 0;
  for (let d = 0; d < rows; d++) {
    for (let j = 0; j < cols; j++) {
      const m = macs.ops[d][j], v = t.ops[d][j];
      if (Number.isNaN(m)) { assert.is(v, null, `block ${d} col ${j}`); assert.is(t.keys[d][j], null); }
      else if (m === 0) { assert.is(v, 0, `block ${d} col ${j} (zero)`); assert.is(t.keys[d][j], null); }
      else {
        assert.ok(typeof v === 'number' && v > 0, `block ${d} col ${j}: ${v}`);
        assert.ok(t.keys[d][j]!.startsWith(`block:${d} ${space.decisions[d].ops[j]}`), t.keys[d][j]!);
        positive++;
      }
    }
  }
  assert.is(positive, rows * 6); // six MBConvs in every block
  const costs = latencyCosts(t);
  assert.ok(Number.isNaN(costs.ops[0][6]) && costs.ops[1][6] === 0);
});

test('the probes chain: each block\'s outputs are the next block\'s input shape; the head gives [1, classes]', () => {
  const p = space.latencyProbes!(be, SIZES, RES);
  try {
    const outShape = (probe: { inputShape: number[]; run(x: Tensor): Tensor }): number[] => {
      const x = Tensor.zeros(be, probe.inputShape);
      const y = tidy(() => noGrad(() => keep(probe.run(x))));
      const s = [...y.shape];
      x.dispose(); y.dispose();
      return s;
    };
    let shape = outShape(p.fixed[0]);
    for (let d = 0; d < rows; d++) {
      const probes = p.ops[d].filter((q): q is Exclude<typeof q, 0 | null> => q !== null && q !== 0);
      assert.is(probes.length, 6);
      let next: number[] | null = null;
      for (const q of probes) {
        assert.equal(q.inputShape, shape, `block ${d}: ${q.key}`);
        const o = outShape(q);
        if (next) assert.equal(o, next, `block ${d}: ${q.key}`);
        next = o;
      }
      shape = next!;
    }
    assert.equal(p.fixed[1].inputShape, shape);
    assert.equal(outShape(p.fixed[1]), [1, SIZES.numClasses]);
  } finally {
    p.dispose();
  }
});

/** a synthetic table: positive ms where a block can take an MBConv, 0 for zero, NaN elsewhere */
function syntheticTable(): { fixed: number; ops: number[][] } {
  const macs = space.opMacs!(SIZES, RES);
  const v = scaledValues('lat-table', rows * cols, 1);
  return { fixed: 0.4, ops: macs.ops.map((r, d) => r.map((m, j) => (Number.isNaN(m) ? NaN : m === 0 ? 0 : 0.05 + 0.3 * Math.abs(v[d * cols + j])))) };
}

test('E_lat(α) and the add#linear α gradient against central differences of λ·(E_lat − T)/T (synthetic table)', async () => {
  const table = syntheticTable();
  const T = 2.5, lambda = 0.1;
  const plain = make(7), reg = make(7, { latencyTarget: T, latencyTable: table, flopsLoss: 'add#linear', flopsLambda: lambda });
  const train = batch('lt'), valid = batch('lv');
  // E counted here: fixed + Σ_d Σ_j softmax(α_d)_j · lat_dj over the enabled ops
  const brute = (a: ArrayLike<number>): number => {
    let e = table.fixed;
    for (let d = 0; d < rows; d++) {
      const en = enabled(d);
      const z = en.reduce((s, j) => s + Math.exp(a[d * cols + j]), 0);
      for (const j of en) e += (Math.exp(a[d * cols + j]) / z) * table.ops[d][j];
    }
    return e;
  };
  try {
    const a0 = Float32Array.from(scaledValues('lat-a0', rows * cols, 0.5));
    be.write(plain.alpha.storage, a0);
    be.write(reg.alpha.storage, a0);
    assert.ok(Math.abs(reg.expectedLatencyMs(a0) - brute(a0)) < 1e-9);
    const before = reg.rng.state();
    const gPlain = await plain.architectureGradient(train, valid);
    const gReg = await reg.architectureGradient(train, valid);
    assert.ok(Math.abs(reg.lastExpectedMacs! - 1000 * brute(a0)) < 1e-6 * 1000 * brute(a0), 'E in µs');
    const replay = new Rng(0);
    replay.restore(before);
    const draw = reg.drawBinaryGates(a0, replay);
    const a = Float64Array.from(a0);
    const h = 1e-4;
    // the regulariser's share by central differences of λ(E − T)/T on the enabled ops
    const fd = (d: number, j: number, k: number): number => {
      if (!enabled(d).includes(j)) return 0;
      const keepV = a[k];
      a[k] = keepV + h; const up = lambda * (brute(a) - T) / T;
      a[k] = keepV - h; const down = lambda * (brute(a) - T) / T;
      a[k] = keepV;
      return (up - down) / (2 * h);
    };
    const withGrad = checkGateGradient(rows, cols, draw.involved, gReg, (d, j, k) => gPlain[k] + fd(d, j, k));
    assert.ok(withGrad >= 8, `${withGrad} blocks with a gradient`);
  } finally {
    for (const t of [train.x, train.y, valid.x, valid.y]) t.dispose();
    plain.dispose(); reg.dispose();
  }
});

test('a tiny search with --latency-target measures the table once and reports it', async () => {
  const c: SearchConfig = {
    ...defaultSearchConfig({ space: 'mobilenet', method: 'gm', preset: 'tiny' }),
    seed: 3, syntheticSize: 64, splitEpochs: [1], branches: 2, totalEpochs: 2, retrainEpochs: 0, select: 'supernet-val-acc', latencyTarget: 5,
  };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const r = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' });
  const t = r.config.latencyTable!;
  assert.ok(t && t.ops.length === rows && t.resolution === data.imageShape[1]);
  assert.ok(t.fixed > 0);
  const html = renderReport(r);
  assert.match(html, /Latency lookup table/);
  assert.match(html, /target 5 ms/);
});

test('flags: --latency-target needs a positive number, --base proxyless, a space with probes, and no --flops-target', () => {
  const c = defaultSearchConfig({ space: 'mobilenet' });
  assert.throws(() => validateSearchConfig({ ...c, latencyTarget: NaN }), /--latency-target: expected a latency in ms > 0/);
  assert.throws(() => validateSearchConfig({ ...c, latencyTarget: -1 }), /--latency-target: expected a latency in ms > 0/);
  assert.throws(() => validateSearchConfig({ ...c, base: 'rsps', latencyTarget: 2 }), /--latency-target: .*needs --base proxyless/);
  assert.throws(() => validateSearchConfig({ ...c, latencyTarget: 2, flopsTarget: 3e8 }), /--latency-target: one hardware loss at a time/);
  assert.throws(() => validateSearchConfig({ ...defaultSearchConfig({ space: 'nb201' }), base: 'proxyless', latencyTarget: 2 }), /--latency-target: the nb201 space has no latency lookup table/);
  validateSearchConfig({ ...c, latencyTarget: 2, flopsLoss: 'add#linear' });
});

test.run();
