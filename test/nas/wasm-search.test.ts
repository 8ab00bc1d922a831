// A whole search (the 'tiny' preset, GM + DARTS) on the wasm backend against the same search on the CPU
// reference backend: the same split edges and groups, distance matrices, leaf scores and final pick up
// to f32 rounding (the wasm kernels sum in f32 and in another order than the reference's f64).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { WasmBackend } from '../../src/engine/wasm/wasm-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';

const config: SearchConfig = { ...defaultSearchConfig({ method: 'gm', preset: 'tiny', base: 'darts' }), seed: 3, syntheticSize: 128 };
const data = prepareSearchData(config, generateSynthetic({ split: 'train', size: 128, seed: 0 }));

function close(a: number, b: number, rtol: number, atol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `${what}: wasm ${a} vs cpu ${b}`);
}

test('GM search, tiny preset: wasm equals the CPU reference within f32 tolerance', async () => {
  const cpu = new CpuBackend();
  const wasm = await WasmBackend.create({ threads: 2 });
  try {
    const ref = await runSearch({ config, backend: cpu, data, store: new MemoryStore(), deviceName: 'cpu' });
    const got = await runSearch({ config, backend: wasm, data, store: new MemoryStore(), deviceName: 'wasm' });
    assert.is(got.splits.length, ref.splits.length);
    got.splits.forEach((s, i) => {
      const r = ref.splits[i];
      assert.is(s.edge, r.edge, `split ${i} edge`);
      assert.equal(s.groups, r.groups, `split ${i} groups`);
      s.distance!.forEach((row, a) => row.forEach((d, b) => close(d, r.distance![a][b], 1e-3, 1e-4, `split ${i} distance[${a}][${b}]`)));
    });
    assert.is(got.leaves.length, ref.leaves.length);
    got.leaves.forEach((l, i) => {
      const r = ref.leaves[i];
      assert.is(l.node, r.node);
      assert.is(l.genotype, r.genotype, `leaf ${l.node} genotype`);
      close(l.val.loss, r.val.loss, 1e-3, 1e-4, `leaf ${l.node} validation loss`);
      close(l.val.accuracy, r.val.accuracy, 0, 1.6, `leaf ${l.node} validation accuracy (%)`); // one image of 64 at most
    });
    assert.is(got.final.genotype, ref.final.genotype);
  } finally {
    wasm.dispose();
    cpu.dispose();
  }
});

test.run();
