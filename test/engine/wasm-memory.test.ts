// The wasm backend's memory running out (src/engine/wasm/memory.ts): the error must say what to lower
// (a DARTS supernet at batch 64 keeps more activations than the 4 GiB a Wasm memory addresses), for a
// shared memory at its growth limit and for an unshared one, which cannot grow. Small limits stand in
// for the 4 GiB.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WasmMemoryPool } from '../../src/engine/wasm/memory.js';

const PAGE = 65536;

function outOfMemory(pool: WasmMemoryPool, floats: number): string {
  try {
    for (let i = 0; i < 100; i++) pool.alloc(floats);
  } catch (err) {
    return String((err as Error).message);
  }
  return 'no error';
}

test('a shared memory at its limit: the error names the limit and the flags to lower', () => {
  const memory = new WebAssembly.Memory({ initial: 17, maximum: 32, shared: true });
  const pool = new WasmMemoryPool(memory, true, 32);
  const msg = outOfMemory(pool, 65536); // 256 KiB each: the 16 pages above the 1 MiB base hold four
  assert.match(msg, /out of memory: the 2 MiB a Wasm memory can address are used up/);
  assert.match(msg, /--batch-size/);
  assert.match(msg, /--channels/);
  assert.is(pool.stats().liveBytes, 4 * 4 * 65536);
});

test('an unshared memory (no growth): the error says so and names the flags to lower', () => {
  const memory = new WebAssembly.Memory({ initial: 20, maximum: 20 });
  const pool = new WasmMemoryPool(memory, false);
  const msg = outOfMemory(pool, 65536);
  assert.match(msg, /without shared memory, which cannot grow/);
  assert.match(msg, /--batch-size/);
  assert.is(memory.buffer.byteLength, 20 * PAGE);
});

test.run();
