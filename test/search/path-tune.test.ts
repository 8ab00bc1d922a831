// BaseMethod.tunePath (the derived-path training before a leaf is scored, docs/quality.md): only the
// path's own weights move, α does not, and the path's loss on the batches it trains on goes down.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { prepareSearchData, createNodeMethod } from '../../src/nas/phases.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { BatchSampler, evalBatches } from '../../src/data/sampler.js';
import { fullMask } from '../../src/spaces/nb201/ops.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';

test('tunePath trains the single path: its loss falls, off-path conv weights and α stay', async () => {
  const be = new CpuBackend();
  const c = { ...defaultSearchConfig({ preset: 'tiny' }), syntheticSize: 64 };
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
  const method = createNodeMethod(c, be, data, 0, fullMask());
  // edge 1<-0 is nor_conv_1x1: its nor_conv_3x3 weights are off the path
  const g = parseGenotype('|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|');
  const named = new Map(method.supernet.namedParameters());
  const onPath = [...named.keys()].find((k) => /cells\.0\.edges\.1<-0\.2\.op\.1\.weight$/.test(k));
  const offPath = [...named.keys()].find((k) => /cells\.0\.edges\.1<-0\.3\.op\.1\.weight$/.test(k));
  assert.ok(onPath && offPath, `parameter names: ${[...named.keys()].slice(0, 8).join(', ')}`);
  const read = async (k: string) => Array.from(await named.get(k)!.data());
  const before = { on: await read(onPath!), off: await read(offPath!), alpha: Array.from(await method.alphaValues()) };
  // the same two images every step: a descent check, not a generalisation one
  const fixed = { next: () => [...evalBatches(data.train, c.batchSize, { indices: data.split.weights.subarray(0, c.batchSize) })][0] };
  const lossOf = async () => (await method.evaluate(() => evalBatches(data.train, c.batchSize, { indices: data.split.weights.subarray(0, c.batchSize) }), { arch: g, bn: 'train' })).loss;
  const l0 = await lossOf();
  await method.tunePath(g, fixed as unknown as BatchSampler, { steps: 10, lr: 0.05 });
  const l1 = await lossOf();
  assert.ok(l1 < l0 - 1e-3, `loss ${l0} → ${l1}`);
  assert.equal(await read(offPath!), before.off);
  assert.not.equal(await read(onPath!), before.on);
  assert.equal(Array.from(await method.alphaValues()), before.alpha);
  method.dispose();
  be.dispose();
});

test.run();
