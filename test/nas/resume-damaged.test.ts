// Resuming a run whose checkpoint is missing or damaged: the run stops and names the file and the ways
// out (never a silent fresh start that keeps the recorded epochs); --retrain-missing rebuilds the node
// from its parent's checkpoint (the root: from its seed) and the run finishes — on the CPU backend with
// the same result as the uninterrupted run (the parent's split is replayed before the child inherits).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, unlinkSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig, type SearchConfig } from '../../src/nas/config.js';
import { runSearch, StopRequested, type SearchResult } from '../../src/nas/search.js';
import { FileStore } from '../../src/nas/file-store.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';

const c: SearchConfig = { ...defaultSearchConfig({ method: 'gm', preset: 'tiny', base: 'snas' }), seed: 7, syntheticSize: 128 };
const be = new CpuBackend();
const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 128, seed: 2 }));
const run = (dir: string, o: { resume?: boolean; stopAfterEpochs?: number; retrainMissing?: boolean; log?: string[] } = {}): Promise<SearchResult> =>
  runSearch({ config: c, backend: be, data, store: new FileStore(dir), deviceName: 'cpu', resume: o.resume, stopAfterEpochs: o.stopAfterEpochs,
    retrainMissing: o.retrainMissing, onLog: (l) => o.log?.push(l) });

async function stopped(dir: string, epochs: number): Promise<void> {
  try { await run(dir, { stopAfterEpochs: epochs }); } catch (e) { if (!(e instanceof StopRequested)) throw e; return; }
  assert.unreachable('the run was not stopped');
}

async function message(fn: () => Promise<unknown>): Promise<string> {
  try { await fn(); } catch (e) { return (e as Error).message; }
  return assert.unreachable('expected an error') as never;
}

/** A result without what differs between two equal runs (times, timestamps, seals). */
function comparable(r: SearchResult): unknown {
  const drop = new Set(['seconds', 'timings', 'startedAt', 'finishedAt', 'sha256']);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => !drop.has(k)).map(([k, x]) => [k, strip(x)]));
  };
  return strip(JSON.parse(JSON.stringify(r)));
}

let full: SearchResult;
test.before(async () => { full = await runSearch({ config: c, backend: be, data, store: new MemoryStore(), deviceName: 'cpu' }); });

test('root checkpoint deleted after its warmup epoch: resume stops naming the file; --retrain-missing reproduces the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmnas-miss-'));
  try {
    await stopped(dir, 1);
    const file = join(dir, 'checkpoints', 'node-0.safetensors');
    unlinkSync(file);
    const msg = await message(() => run(dir, { resume: true }));
    assert.ok(msg.includes(file), msg);
    assert.match(msg, /missing/);
    assert.match(msg, /--retrain-missing/);
    assert.match(msg, /start over/);
    const log: string[] = [];
    const r = await run(dir, { resume: true, retrainMissing: true, log });
    assert.ok(log.some((l) => /node 0: .*missing; retraining it from its seed/.test(l)), log.join('\n'));
    // the root retrained from its seed is the uninterrupted root: the same splits and final pick
    assert.equal(r.splits, full.splits);
    assert.is(r.final.genotype, full.final.genotype);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a child\'s checkpoint deleted or damaged: refused naming the file; --retrain-missing rebuilds it from the parent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmnas-miss-'));
  try {
    await stopped(dir, 2); // root epoch 0, split, node 1 epoch 1
    const file = join(dir, 'checkpoints', 'node-2.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 0x10; // one bit of a weight
    writeFileSync(file, bytes);
    const msg = await message(() => run(dir, { resume: true }));
    assert.ok(msg.includes(file), msg);
    assert.match(msg, /checksum|SHA-256/i);
    unlinkSync(file);
    const msg2 = await message(() => run(dir, { resume: true }));
    assert.ok(msg2.includes(file) && /missing/.test(msg2) && /parent's checkpoint \(node 0, epoch 1\)/.test(msg2), msg2);
    const log: string[] = [];
    const r = await run(dir, { resume: true, retrainMissing: true, log });
    assert.ok(log.some((l) => /node 2: .*retraining it from its parent's checkpoint \(node 0, epoch 1/.test(l)), log.join('\n'));
    assert.not.ok(log.some((l) => /warning/.test(l)), log.join('\n'));
    assert.is(r.leaves.length, 4);
    // node 2 inherited the root's state after the root's GM scoring (BN statistics, sampling stream):
    // the rebuild replays that scoring, so the whole run is the uninterrupted one
    assert.equal(comparable(r), comparable(full));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a leaf\'s checkpoint deleted (restarted at the last split: fresh weights from its seed): --retrain-missing reproduces the run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gmnas-miss-'));
  try {
    await stopped(dir, 5); // root epoch 0, split, nodes 1 and 2 epoch 1, splits, leaf 3 epoch 2
    const file = join(dir, 'checkpoints', 'node-4.safetensors');
    unlinkSync(file);
    const log: string[] = [];
    const r = await run(dir, { resume: true, retrainMissing: true, log });
    assert.ok(log.some((l) => /node 4: .*retraining it from its parent's checkpoint \(node 1, epoch 2/.test(l)), log.join('\n'));
    assert.equal(comparable(r), comparable(full));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
