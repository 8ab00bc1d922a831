// The wasm backend's threads per leaf-pool worker: the pool's threads shared out so that leaves trained
// side by side never run more kernel threads than the pool was given.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leafThreads, workersWithinMapBudget } from '../../src/pool/leaf-pool.js';

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

test('workersWithinMapBudget: the process and its workers\' devices (as many mappings each as the process) under 80 % of the limit', () => {
  // the crashed quick DARTS run: ~23 000 mappings on the main device, two workers asked -> one
  assert.is(workersWithinMapBudget(2, 23_000, 65_530), 1);
  // a small device (NB201 quick): two workers as asked
  assert.is(workersWithinMapBudget(2, 4_000, 65_530), 2);
  // at least one, never more than asked; unknown figures leave the request alone
  assert.is(workersWithinMapBudget(2, 60_000, 65_530), 1);
  assert.is(workersWithinMapBudget(3, 12_000, 65_530), 3);
  assert.is(workersWithinMapBudget(4, 12_000, 65_530), 3);
  assert.is(workersWithinMapBudget(2, 0, 65_530), 2);
  for (const mapped of [1_000, 5_000, 12_000, 20_000]) {
    for (let wanted = 1; wanted <= 8; wanted++) {
      const w = workersWithinMapBudget(wanted, mapped, 65_530);
      assert.ok(w >= 1 && w <= wanted, `${wanted} wanted, ${mapped} mapped: ${w}`);
      if (w > 1) assert.ok(mapped * (w + 1) <= 0.8 * 65_530, `${w} workers at ${mapped} mappings pass the budget`);
    }
  }
});

test.run();
