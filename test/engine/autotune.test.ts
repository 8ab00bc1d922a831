// Kernel autotuning (src/engine/webgpu/autotune.ts, issue 5 item 4): tuned convolutions still match
// the CPU reference, every variant of every family does (odd shape: stride 2, groups, odd width, fused
// ReLU; subgroup and portable shaders), the cache file round-trips and merges, the off switch records
// and touches nothing, a corrupt cache is one warning and ignored, and training calls tune().
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, ConvGeom, Storage } from '../../src/engine/backend.js';
import { convOutSize } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { WebGpuBackend, type WebGpuBackendOptions } from '../../src/engine/webgpu/webgpu-backend.js';
import type { GpuStorage } from '../../src/engine/webgpu/runtime.js';
import {
  convShapeKey, gemmVariants, implicitGemm, weightGradDispatch, weightGradVariants,
} from '../../src/engine/webgpu/kernels/conv.js';
import {
  AUTOTUNE_CACHE_VERSION, Autotuner, parseAutotuneCache, type AutotuneCacheStore,
} from '../../src/engine/webgpu/autotune.js';
import { autotuneCacheFile, defaultAutotuneCachePath } from '../../src/io/autotune-cache.js';
import { readCommonFlags } from '../../src/cli/common-flags.js';
import { createBaseMethod, type HostBatch } from '../../src/search/index.js';
import { Rng } from '../../src/data/rng.js';
import { assertClose, randn, testBackends } from '../helpers/backends.js';
import { switches, switchFromEnv, withSwitches } from '../../src/engine/switches.js';

const { cpu, gpu: probe } = await testBackends();
// only the adapter check is wanted from testBackends: these tests make backends with their own options
probe?.dispose();
const haveGpu = probe !== null;

const tmp = mkdtempSync(join(tmpdir(), 'gmnas-autotune-'));
// small shapes keep the tests fast: tune them although they are below the production threshold
const MIN_TUNE_MACS = switches.minTuneMacs;
switches.minTuneMacs = 0;
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function conv(N: number, Cin: number, H: number, W: number, Cout: number, K: number, stride: number, pad: number,
  groups = 1, reluInput = false): ConvGeom {
  return {
    N, Cin, H, W, Cout, KH: K, KW: K, strideH: stride, strideW: stride, padH: pad, padW: pad, dilH: 1, dilW: 1, groups,
    OH: convOutSize(H, K, stride, pad, 1), OW: convOutSize(W, K, stride, pad, 1), ...(reluInput ? { reluInput } : {}),
  };
}

const sizes = (g: ConvGeom) => ({
  x: g.N * g.Cin * g.H * g.W, y: g.N * g.Cout * g.OH * g.OW, w: g.Cout * (g.Cin / g.groups) * g.KH * g.KW,
});

interface ConvData { x: Float32Array; w: Float32Array; dy: Float32Array }

let seed = 7100;
function convData(g: ConvGeom): ConvData {
  const n = sizes(g);
  return { x: randn(n.x, seed++), w: randn(n.w, seed++), dy: randn(n.y, seed++) };
}

/** y, dx, dw of one conv geometry on `be` (dispatching them records the shapes on WebGPU). */
async function runConv(be: Backend, g: ConvGeom, d: ConvData): Promise<Float32Array[]> {
  const n = sizes(g);
  const x = be.upload(d.x), w = be.upload(d.w), dy = be.upload(d.dy);
  const y = be.alloc(n.y), dx = be.alloc(n.x), dw = be.alloc(n.w);
  be.conv2d(x, w, null, y, g);
  be.conv2dInputGrad(dy, w, dx, g, g.reluInput ? x : null);
  be.conv2dWeightGrad(dy, x, dw, g);
  const out = [await be.read(y), await be.read(dx), await be.read(dw)];
  for (const s of [x, w, dy, y, dx, dw]) be.release(s);
  return out;
}

/** Within f32 rounding of sums of many terms: tolerance relative to the largest expected value. */
function close(got: Float32Array, want: Float32Array, label: string, rel = 2e-5): void {
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  assertClose(got, want, 1e-5, rel * scale + 1e-6, label);
}

function checkAll(got: Float32Array[], want: Float32Array[], label: string): void {
  close(got[0], want[0], `${label} conv2d`);
  close(got[1], want[1], `${label} conv2dInputGrad`);
  close(got[2], want[2], `${label} conv2dWeightGrad`, 5e-5);
}

const gpuWith = (o: WebGpuBackendOptions) => WebGpuBackend.create({ autotune: true, ...o });

// NB201-like layers, small: a fused ReLU→conv 3×3 and a 1×1
const NB201_SMALL = [conv(4, 16, 8, 8, 16, 3, 1, 1, 1, true), conv(4, 16, 8, 8, 16, 1, 1, 0)];

test('tune() times the recorded conv shapes once; tuned results still match the CPU reference', async () => {
  if (!haveGpu) return;
  const gpu = await gpuWith({});
  try {
    const data = NB201_SMALL.map(convData);
    for (let i = 0; i < NB201_SMALL.length; i++) await runConv(gpu, NB201_SMALL[i], data[i]);
    const pending = gpu.autotuner.pendingKeys();
    // forward and input gradient have 6 variants each here (TC 8/4/2 × CV 1/2); the weight gradient's
    // split counts may coincide (then it has one variant and is not timed)
    for (const g of NB201_SMALL) {
      for (const family of ['conv-fwd', 'conv-dgrad']) {
        assert.ok(pending.some((k) => k.startsWith(`${family}|n4 ci16 8x8 co16 k${g.KH}x${g.KW}`)), `${family} k${g.KH} pending: ${pending.join('; ')}`);
      }
    }
    await gpu.tune();
    assert.is(gpu.autotuner.timedKeys, pending.length);
    assert.equal(gpu.autotuner.pendingKeys(), []);
    const report = gpu.autotuneReport();
    assert.is(report.length, pending.length);
    for (const r of report) {
      assert.is(r.source, 'timed');
      assert.ok(r.key.startsWith(`${r.family}|${r.shape}|`), r.key);
      assert.ok(Object.keys(r.timesMs).length > 1, `${r.key}: ${JSON.stringify(r.timesMs)}`);
      assert.ok(r.chosen in r.timesMs, `${r.key}: chosen ${r.chosen}`);
      for (const t of Object.values(r.timesMs)) assert.ok(Number.isFinite(t) && t > 0, `${r.key}: time ${t}`);
    }
    for (let i = 0; i < NB201_SMALL.length; i++) {
      checkAll(await runConv(gpu, NB201_SMALL[i], data[i]), await runConv(cpu, NB201_SMALL[i], data[i]), `tuned k${NB201_SMALL[i].KH}`);
    }
    await gpu.tune();
    assert.is(gpu.autotuner.timedKeys, pending.length, 'a second tune() times nothing');
  } finally {
    gpu.dispose();
  }
});

test('shapes with little work keep the rule and are never timed', async () => {
  if (!haveGpu) return;
  const gpu = await gpuWith({});
  switches.minTuneMacs = MIN_TUNE_MACS;
  try {
    const small = NB201_SMALL[0];                       // 1.2 M multiply-adds
    const large = conv(8, 32, 16, 16, 32, 3, 1, 1, 1, true); // 19 M
    for (const g of [small, large]) {
      const n = sizes(g);
      const x = gpu.upload(randn(n.x, seed++)), w = gpu.upload(randn(n.w, seed++)), y = gpu.alloc(n.y);
      gpu.conv2d(x, w, null, y, g);
      await gpu.sync();
      for (const s of [x, w, y]) gpu.release(s);
    }
    assert.equal(gpu.autotuner.pendingKeys(), [gpu.autotuner.key('conv-fwd', convShapeKey(gpu.rt, large))]);
    assert.match(convShapeKey(gpu.rt, large), /^n8 ci32 16x16 co32 k3x3 s1x1 p1x1 d1x1 g1 relu( sg)?$/);
  } finally {
    switches.minTuneMacs = 0;
    gpu.dispose();
  }
});

test('every variant of every family matches the CPU reference (stride 2, groups 2, odd width, fused ReLU)', async () => {
  if (!haveGpu) return;
  const gpu = await gpuWith({ autotune: false });
  const rt = gpu.rt;
  // rows N·OH = 256, so the weight gradient's split-count variants differ on software adapters
  const g = conv(16, 8, 31, 33, 64, 3, 2, 1, 2, true);
  const d = convData(g);
  const want = await runConv(cpu, g, d);
  const n = sizes(g);
  const saved = switches.subgroups;
  try {
    for (const sg of [true, false]) {
      switches.subgroups = sg;
      const fwd = gemmVariants(g, false), dgrad = gemmVariants(g, true), wgrad = weightGradVariants(rt, g);
      assert.is(fwd.length, 8, 'forward: TC 16/8/4/2 × CV 1/2');
      assert.is(dgrad.length, 4, 'input gradient: TC 4/2 × CV 1/2');
      assert.ok(wgrad.length >= 1);
      for (const list of [fwd, dgrad, wgrad]) assert.is(new Set(list.map((v) => v.name)).size, list.length, 'names unique');
      const x = gpu.upload(d.x) as GpuStorage, w = gpu.upload(d.w) as GpuStorage, dy = gpu.upload(d.dy) as GpuStorage;
      const run = async (n: number, fn: (out: GpuStorage) => void): Promise<Float32Array> => {
        const out = gpu.upload(randn(n, seed++)) as GpuStorage; // junk: variants must overwrite
        fn(out);
        const r = await gpu.read(out);
        gpu.release(out);
        return r;
      };
      for (const v of fwd) {
        close(await run(n.y, (y) => implicitGemm(rt, v.params, x, w, null, y, g, false)), want[0], `sg=${sg} conv-fwd ${v.name}`);
      }
      for (const v of dgrad) {
        close(await run(n.x, (dx) => implicitGemm(rt, v.params, dy, w, null, dx, g, true, x)), want[1], `sg=${sg} conv-dgrad ${v.name}`);
      }
      for (const v of wgrad) {
        close(await run(n.w, (dw) => weightGradDispatch(rt, v.params, dy, x, dw, g)), want[2], `sg=${sg} conv-wgrad ${v.name}`, 5e-5);
      }
      for (const s of [x, w, dy]) gpu.release(s as Storage);
    }
  } finally {
    switches.subgroups = saved;
    gpu.dispose();
  }
});

test('the cache file round-trips: a new backend takes the choices from it and times nothing', async () => {
  if (!haveGpu) return;
  const path = join(tmp, 'roundtrip', 'autotune.json');
  // another adapter's entry, which the save must keep
  const foreign = 'conv-fwd|n1 ci1 1x1 co1 k1x1 s1x1 p0x0 d1x1 g1|other/adapter';
  const store = autotuneCacheFile(path);
  const g = NB201_SMALL[0], d = convData(g);
  const a = await gpuWith({ autotuneCache: store });
  let first: Record<string, string>;
  try {
    await runConv(a, g, d);
    await a.tune();
    assert.ok(a.autotuner.timedKeys >= 2, `timed ${a.autotuner.timedKeys}`);
    first = Object.fromEntries(a.autotuneReport().map((r) => [r.key, r.chosen]));
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.is(file.version, AUTOTUNE_CACHE_VERSION);
    assert.is(file.adapter, a.autotuner.adapter);
    assert.equal(file.entries, first);
    file.entries[foreign] = 'tc8-cv2';
    writeFileSync(path, JSON.stringify(file));
  } finally {
    a.dispose();
  }
  const b = await gpuWith({ autotuneCache: store });
  try {
    const got = await runConv(b, g, d);
    assert.equal(b.autotuner.pendingKeys(), [], 'every key came from the file');
    await b.tune();
    assert.is(b.autotuner.timedKeys, 0);
    const report = b.autotuneReport();
    assert.equal(Object.fromEntries(report.map((r) => [r.key, r.chosen])), first);
    for (const r of report) { assert.is(r.source, 'cache'); assert.equal(r.timesMs, {}); }
    checkAll(got, await runConv(cpu, g, d), 'cached choice');
    // a shape the file lacks is timed and merged in; the other adapter's entry stays
    await runConv(b, NB201_SMALL[1], convData(NB201_SMALL[1]));
    await b.tune();
    assert.ok(b.autotuner.timedKeys >= 2);
    const entries = parseAutotuneCache(readFileSync(path, 'utf8'));
    assert.is(entries[foreign], 'tc8-cv2');
    for (const r of b.autotuneReport()) assert.is(entries[r.key], r.chosen);
  } finally {
    b.dispose();
  }
});

test('off switch: nothing recorded, nothing timed, the cache never touched', async () => {
  assert.is(switchFromEnv(undefined), true);
  assert.is(switchFromEnv('1'), true);
  for (const v of ['0', 'false', 'OFF', ' no ']) assert.is(switchFromEnv(v), false, v);
  const defaults = { dataset: 'synthetic' as const, channels: 1, cells: 1, batchSize: 1, epochs: 1 };
  assert.is(readCommonFlags({ 'no-autotune': true }, defaults).autotune, false);
  assert.is(readCommonFlags({}, defaults).autotune, switches.autotune);
  if (!haveGpu) return;
  let touched = 0;
  const spy: AutotuneCacheStore = { location: 'spy', load: () => { touched++; return null; }, save: () => { touched++; } };
  // autotune false: what GMNAS_AUTOTUNE=0 sets
  const viaEnv = await withSwitches({ autotune: false }, () => WebGpuBackend.create({ autotuneCache: spy }));
  const viaOption = await WebGpuBackend.create({ autotune: false, autotuneCache: spy });
  try {
    for (const be of [viaEnv, viaOption]) {
      assert.is(be.autotuner.enabled, false);
      const g = NB201_SMALL[0], d = convData(g);
      checkAll(await runConv(be, g, d), await runConv(cpu, g, d), 'tuning off');
      assert.equal(be.autotuner.pendingKeys(), []);
      await be.tune();
      assert.is(be.autotuner.timedKeys, 0);
      assert.equal(be.autotuneReport(), []);
    }
    assert.is(touched, 0);
  } finally {
    viaEnv.dispose();
    viaOption.dispose();
  }
});

test('a corrupt cache file is one warning naming the file, then ignored and replaced', async () => {
  // the parser's verdicts, without a device
  const bad: [string, RegExp][] = [
    ['{"version": 1, "entries": [', /not valid JSON/],
    ['[1, 2]', /no numeric "version"/],
    ['{"version": 1, "entries": []}', /"entries" is not an object/],
    ['{"version": 1, "entries": {"k": 3}}', /entry "k" is not a variant name/],
  ];
  for (const [text, why] of bad) {
    const warnings: string[] = [];
    const t = new Autotuner({
      enabled: true, adapter: 'a', sync: async () => {}, warn: (m) => warnings.push(m),
      store: { location: '/some/autotune.json', load: () => text, save: () => {} },
    });
    assert.is(t.enabled, true);
    assert.is(warnings.length, 1, text);
    assert.match(warnings[0], '/some/autotune.json');
    assert.match(warnings[0], why);
    assert.not.match(warnings[0], '\n');
  }
  // another version is a stale cache, not a corrupt one: no warning, no entries
  assert.equal(parseAutotuneCache(JSON.stringify({ version: AUTOTUNE_CACHE_VERSION + 1, adapter: 'a', entries: { k: 'v' } })), {});

  if (!haveGpu) return;
  const path = join(tmp, 'corrupt.json');
  writeFileSync(path, '{"version": 1, "entries": {"conv-fwd|');
  const warnings: string[] = [];
  const be = await gpuWith({ autotuneCache: autotuneCacheFile(path), log: (m) => warnings.push(m) });
  try {
    assert.is(warnings.length, 1);
    assert.match(warnings[0], path);
    assert.not.match(warnings[0], '\n');
    const g = NB201_SMALL[0], d = convData(g);
    checkAll(await runConv(be, g, d), await runConv(cpu, g, d), 'after a corrupt cache');
    await be.tune();
    assert.ok(be.autotuner.timedKeys >= 2);
    const entries = parseAutotuneCache(readFileSync(path, 'utf8'));
    for (const r of be.autotuneReport()) assert.is(entries[r.key], r.chosen);
    // the log also carries the start and end notices of the tuning (a first run spends seconds there)
    const notices = warnings.filter((m) => /^autotune: (timing \d+ kernel shapes?|\d+ shapes? tuned in)/.test(m));
    assert.is(notices.length, 2, `start and end notices: ${JSON.stringify(warnings)}`);
    assert.match(notices[0], path);
    assert.is(warnings.length - notices.length, 1, 'saving over the corrupt file warns no more');
  } finally {
    be.dispose();
  }
});

test('default cache path: $XDG_CACHE_HOME/gmnas, else ~/.cache/gmnas', () => {
  assert.is(defaultAutotuneCachePath({ XDG_CACHE_HOME: '/xdg' }), join('/xdg', 'gmnas', 'autotune.json'));
  assert.is(defaultAutotuneCachePath({ XDG_CACHE_HOME: 'relative' }), join(homedir(), '.cache', 'gmnas', 'autotune.json'));
  assert.is(defaultAutotuneCachePath({}), join(homedir(), '.cache', 'gmnas', 'autotune.json'));
});

test('training calls tune() after the first step of an epoch', async () => {
  let calls = 0;
  const be = Object.assign(new CpuBackend(), { tune: async () => { calls++; } });
  const r = new Rng(3);
  const source = { next: (): HostBatch => ({ x: new Float32Array(4 * 3 * 64).map(() => r.normal()), y: new Float32Array(4).map(() => r.int(4)), n: 4 }) };
  const m = createBaseMethod('darts', { backend: be, sizes: { C: 4, N: 1, inputChannels: 3, numClasses: 4 }, imageShape: [3, 8, 8], seed: 1 });
  try {
    m.setEpoch(0, 2);
    await m.trainEpoch({ steps: 3, train: source, valid: source, updateArch: true });
    assert.is(calls, 1);
    await m.trainEpoch({ steps: 2, train: source, valid: source, updateArch: true });
    assert.is(calls, 2);
  } finally {
    m.dispose();
  }
});

test.run();
