// The dropout hash (src/engine/cpu/hash.ts) against test/goldens/hash_uniform.json, which
// scripts/goldens/make_goldens.py writes from an independent Python implementation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashU32, hashUniform } from '../../src/engine/cpu/hash.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const doc = JSON.parse(readFileSync(join(root, 'test/goldens/hash_uniform.json'), 'utf8')) as { values: { seed: number; i: number; u32: number; uniform: number }[] };

test('hashU32 and hashUniform equal the Python golden at every (seed, i), exactly', () => {
  assert.ok(doc.values.length >= 50, `${doc.values.length} golden values`);
  for (const v of doc.values) {
    assert.is(hashU32(v.seed, v.i), v.u32, `hashU32(${v.seed}, ${v.i})`);
    assert.is(hashUniform(v.seed, v.i), v.uniform, `hashUniform(${v.seed}, ${v.i})`);
  }
});

test.run();
