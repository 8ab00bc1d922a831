// Backend selection: 'cpu' / 'webgpu' / 'auto', the description line, bad kinds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, describeBackend } from '../../src/engine/select-backend.js';
import { requestAdapter } from '../../src/engine/webgpu/device.js';
import type { BackendKind } from '../../src/engine/select-backend.js';

test("'cpu' gives the CPU backend", async () => {
  const b = await createBackend('cpu');
  assert.is(b.kind, 'cpu');
  assert.match(describeBackend(b), /^cpu \(/);
  b.dispose();
});

test("'auto' and 'webgpu' give WebGPU when an adapter exists (else 'auto' falls back with one notice)", async () => {
  const hasAdapter = (await requestAdapter()) !== null;
  if (!hasAdapter && process.env.GMNAS_ALLOW_NO_GPU !== '1') throw new Error('no WebGPU adapter (set GMNAS_ALLOW_NO_GPU=1 to skip)');
  const notices: string[] = [];
  const auto = await createBackend('auto', { log: (m) => notices.push(m) });
  if (hasAdapter) {
    assert.is(auto.kind, 'webgpu');
    assert.is(notices.length, 0);
    assert.match(describeBackend(auto), /^webgpu \(WebGPU: /);
    // the device works: a round trip through a kernel
    const s = auto.upload(new Float32Array([1, -2, 3]));
    const o = auto.alloc(3);
    auto.relu(s, o, 3);
    assert.equal(Array.from(await auto.read(o)), [1, 0, 3]);
    const explicit = await createBackend('webgpu');
    assert.is(explicit.kind, 'webgpu');
    explicit.dispose();
  } else {
    assert.is(auto.kind, 'cpu');
    assert.is(notices.length, 1);
    assert.match(notices[0], /lavapipe/);
    let err: unknown = null;
    try { await createBackend('webgpu'); } catch (e) { err = e; }
    assert.match(String(err), /no WebGPU adapter/);
  }
  auto.dispose();
});

test('an unknown kind is a clear error', async () => {
  let err: unknown = null;
  try { await createBackend('tpu' as BackendKind); } catch (e) { err = e; }
  assert.match(String(err), /unknown backend kind "tpu"/);
});

test.run();
