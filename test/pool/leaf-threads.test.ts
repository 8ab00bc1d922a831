// The wasm backend's threads per leaf-pool worker: the pool's threads shared out so that leaves trained
// side by side never run more kernel threads than the pool was given.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leafThreads } from '../../src/pool/leaf-pool.js';

test('leafThreads: floor(total / workers), at least one, never more than the total in all', () => {
  assert.is(leafThreads(2, 1), 2);
  assert.is(leafThreads(2, 2), 1);
  assert.is(leafThreads(8, 3), 2);
  assert.is(leafThreads(2, 4), 1);
  assert.is(leafThreads(1, 0), 1);
  for (let total = 1; total <= 16; total++) {
    for (let workers = 1; workers <= total; workers++) assert.ok(leafThreads(total, workers) * workers <= total, `${total} threads, ${workers} workers`);
  }
});

test.run();
