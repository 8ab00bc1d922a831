// `node run.js verify RUN_DIR` on a real (tiny, CPU) run folder: clean while stopped and when finished;
// a missing checkpoint the resume needs, a bit-flipped checkpoint and an edited result.json are errors
// naming the file; a crash's temporary file is a warning.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, renameSync, rmSync, unlinkSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { runSearch, StopRequested } from '../../src/nas/search.js';
import { FileStore } from '../../src/nas/file-store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { verifyRunFolder, type Finding } from '../../src/nas/verify-run.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const c = { ...defaultSearchConfig({ method: 'gm', preset: 'tiny', base: 'darts' }), seed: 11, syntheticSize: 128 };
const be = new CpuBackend();
const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 128, seed: 3 }));
const dir = mkdtempSync(join(tmpdir(), 'gmnas-verify-'));
const errors = (f: Finding[]): Finding[] => f.filter((x) => x.level === 'error');

test('a stopped run verifies clean; a checkpoint the resume needs, once deleted, is an error naming it', async () => {
  try { await runSearch({ config: c, backend: be, data, store: new FileStore(dir), deviceName: 'cpu', stopAfterEpochs: 2 }); } catch (e) { if (!(e instanceof StopRequested)) throw e; }
  const f = verifyRunFolder(dir);
  assert.equal(errors(f), []);
  assert.ok(f.some((x) => x.file === 'state.json' && /SHA-256 matches/.test(x.message)));
  assert.ok(f.some((x) => x.file === 'checkpoints/node-2.safetensors' && /SHA-256 matches.*all finite/.test(x.message)));
  const saved = join(dir, 'node-2.keep');
  copyFileSync(join(dir, 'checkpoints', 'node-2.safetensors'), saved);
  unlinkSync(join(dir, 'checkpoints', 'node-2.safetensors'));
  const e = errors(verifyRunFolder(dir));
  assert.is(e.length, 1);
  assert.is(e[0].file, 'checkpoints/node-2.safetensors');
  assert.match(e[0].message, /missing.*--retrain-missing/);
  copyFileSync(saved, join(dir, 'checkpoints', 'node-2.safetensors'));
  unlinkSync(saved);
});

test('a run whose checkpoints are in a shared store (queue-store.json): verify checks them there, named by their path', async () => {
  // the stopped run of the test above, its checkpoints moved into a store as `--queue --store` keeps them
  const store = mkdtempSync(join(tmpdir(), 'gmnas-verify-store-'));
  const ckRoot = join(store, 'gmnas-run-0123abcd');
  mkdirSync(ckRoot);
  renameSync(join(dir, 'checkpoints'), join(ckRoot, 'checkpoints'));
  writeFileSync(join(dir, 'queue-store.json'), JSON.stringify({ checkpointRoot: ckRoot, store }));
  try {
    const f = verifyRunFolder(dir);
    assert.equal(errors(f), []);
    const stored = join(ckRoot, 'checkpoints', 'node-2.safetensors');
    assert.ok(f.some((x) => x.file === stored && /SHA-256 matches.*all finite/.test(x.message)), JSON.stringify(f));
    const bytes = readFileSync(stored);
    bytes[bytes.length - 5] ^= 0x01;
    writeFileSync(stored, bytes);
    const r = spawnSync(process.execPath, [RUN_JS, 'verify', dir, '--quiet'], { encoding: 'utf8' });
    assert.is(r.status, 1, r.stderr);
    assert.ok(r.stdout.includes(`error    ${stored}: SHA-256 checksum mismatch`), r.stdout);
    bytes[bytes.length - 5] ^= 0x01;
    writeFileSync(stored, bytes);
    // the store not mounted: the checkpoints the resume needs are not visible — an error naming the folder
    renameSync(ckRoot, `${ckRoot}-away`);
    const e = errors(verifyRunFolder(dir));
    assert.ok(e.some((x) => x.file === join(ckRoot, 'checkpoints') && /not visible/.test(x.message)), JSON.stringify(e));
    assert.ok(e.some((x) => x.file === stored && /missing/.test(x.message)), JSON.stringify(e));
    renameSync(`${ckRoot}-away`, ckRoot);
  } finally {
    renameSync(join(ckRoot, 'checkpoints'), join(dir, 'checkpoints'));
    unlinkSync(join(dir, 'queue-store.json'));
    rmSync(store, { recursive: true, force: true });
  }
});

test('a finished run verifies clean; a flipped bit, an edited result.json and a leftover temp file are reported', async () => {
  await runSearch({ config: c, backend: be, data, store: new FileStore(dir), deviceName: 'cpu', resume: true });
  assert.equal(errors(verifyRunFolder(dir)), []);
  const ck = join(dir, 'checkpoints', 'node-4.safetensors');
  const bytes = readFileSync(ck);
  bytes[bytes.length - 9] ^= 0x04;
  writeFileSync(ck, bytes);
  const res = join(dir, 'result.json');
  const text = readFileSync(res, 'utf8');
  writeFileSync(res, text.replace(/"genotype": "\|([a-z_0-9]+)~0\|/, (m, op) => m.replace(op, op === 'none' ? 'skip_connect' : 'none')));
  writeFileSync(join(dir, 'state.json.tmp-123-0-4'), '{');
  const f = verifyRunFolder(dir);
  const e = errors(f);
  assert.equal(e.map((x) => x.file).sort(), ['checkpoints/node-4.safetensors', 'result.json']);
  assert.ok(e.every((x) => /SHA-256 checksum mismatch/.test(x.message)), JSON.stringify(e));
  assert.ok(f.some((x) => x.level === 'warning' && x.file === 'state.json.tmp-123-0-4'));
  // the command: one line per finding, exit status 1, the damaged file named
  const r = spawnSync(process.execPath, [RUN_JS, 'verify', dir, '--quiet'], { encoding: 'utf8' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stdout, /error\s+checkpoints\/node-4\.safetensors: SHA-256 checksum mismatch/);
  assert.match(r.stdout, /2 errors/);
  const bad = spawnSync(process.execPath, [RUN_JS, 'verify', join(dir, 'nope')], { encoding: 'utf8' });
  assert.is(bad.status, 1);
  assert.match(bad.stderr, /nope: no such folder/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
