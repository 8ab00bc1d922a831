import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic, saveSafetensors, loadSafetensors, readJsonFile, readTextFile } from '../../src/io/fs.js';

const dir = mkdtempSync(join(tmpdir(), 'gmnas-io-'));

test('writeFileAtomic: writes, overwrites, creates the directory, leaves no temp file', () => {
  const path = join(dir, 'sub', 'deeper', 'a.bin');
  writeFileAtomic(path, new Uint8Array([1, 2, 3]));
  assert.equal(Array.from(readFileSync(path)), [1, 2, 3]);
  writeFileAtomic(path, 'text ✓');
  assert.is(readFileSync(path, 'utf8'), 'text ✓');
  assert.equal(readdirSync(join(dir, 'sub', 'deeper')), ['a.bin']);
});

test('writeFileAtomic: a failed rename keeps the old target and removes the temp file', () => {
  // The target is a non-empty directory: the temp file is written, the rename fails.
  const target = join(dir, 'busy');
  mkdirSync(target);
  writeFileSync(join(target, 'keep.txt'), 'old');
  assert.throws(() => writeFileAtomic(target, 'new'), /cannot write .*busy: /);
  assert.equal(readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  assert.is(readFileSync(join(target, 'keep.txt'), 'utf8'), 'old');
  // A parent that is a file cannot hold the target.
  writeFileSync(join(dir, 'plain'), 'x');
  assert.throws(() => writeFileAtomic(join(dir, 'plain', 'child.json'), '{}'), /cannot write .*plain\/child\.json: /);
});

test('writeJsonAtomic / readJsonFile round trip, with a final newline', () => {
  const path = join(dir, 'result.json');
  const value = { genotype: '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|', test: { accuracy: 93.5 }, list: [1, 2] };
  writeJsonAtomic(path, value);
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('}\n'));
  assert.ok(text.includes('\n  "test": {'), 'indented by 2');
  assert.equal(readJsonFile(path), value);
  writeFileSync(join(dir, 'broken.json'), '{"a":');
  assert.throws(() => readJsonFile(join(dir, 'broken.json')), /broken\.json: not valid JSON/);
  assert.throws(() => readTextFile(join(dir, 'missing.txt'), 'arch list'), /cannot read arch list .*missing\.txt: ENOENT/);
  assert.throws(() => writeJsonAtomic(join(dir, 'u.json'), undefined), /not JSON-serialisable/);
});

test('saveSafetensors / loadSafetensors round trip; errors name the file', () => {
  const path = join(dir, 'ckpt', 'model.safetensors');
  const w = new Float32Array(16 * 3 * 3 * 3).map((_, i) => Math.sin(i) * 0.1);
  saveSafetensors(path, [
    { name: 'stem.0.weight', shape: [16, 3, 3, 3], data: w },
    { name: 'stem.1.num_batches_tracked', shape: [], data: new BigInt64Array([3n]) },
  ], { format: 'pt' });
  const { tensors, metadata } = loadSafetensors(path);
  assert.equal(metadata, { format: 'pt' });
  assert.equal(tensors.get('stem.0.weight')!.shape, [16, 3, 3, 3]);
  assert.equal(Array.from(tensors.get('stem.0.weight')!.data), Array.from(w));
  assert.equal(Array.from(tensors.get('stem.1.num_batches_tracked')!.data), [3]);
  writeFileSync(join(dir, 'trunc.safetensors'), readFileSync(path).subarray(0, 100));
  assert.throws(() => loadSafetensors(join(dir, 'trunc.safetensors')), /trunc\.safetensors: not a valid safetensors file/);
  assert.throws(() => loadSafetensors(join(dir, 'none.safetensors')), /cannot read safetensors file .*none\.safetensors: ENOENT/);
  assert.throws(() => saveSafetensors(join(dir, 'x.safetensors'), [{ name: 'a', shape: [2], data: new Float32Array(1) }]),
    /cannot write .*x\.safetensors: encodeSafetensors: tensor 'a'/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
