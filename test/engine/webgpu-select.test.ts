// Backend selection: 'cpu' / 'webgpu' / 'wasm' / 'auto', the description line, bad kinds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, describeBackend, isSoftwareAdapter } from '../../src/engine/select-backend.js';
import { describeAdapter, requestAdapter } from '../../src/engine/webgpu/device.js';
import type { BackendKind } from '../../src/engine/select-backend.js';

test("'cpu' gives the CPU backend", async () => {
  const b = await createBackend('cpu');
  assert.is(b.kind, 'cpu');
  assert.match(describeBackend(b), /^cpu \(/);
  b.dispose();
});

test("'auto' gives WebGPU on a real GPU, else the wasm backend; 'webgpu' gives WebGPU when an adapter exists", async () => {
  const adapter = await requestAdapter();
  if (!adapter && process.env.GMNAS_ALLOW_NO_GPU !== '1') throw new Error('no WebGPU adapter (set GMNAS_ALLOW_NO_GPU=1 to skip)');
  const notices: string[] = [];
  const auto = await createBackend('auto', { log: (m) => notices.push(m), threads: 2 });
  assert.is(notices.length, 0);
  const realGpu = !!adapter && !isSoftwareAdapter(adapter);
  assert.is(auto.kind, realGpu ? 'webgpu' : 'wasm');
  assert.match(describeBackend(auto), realGpu ? /^webgpu \(WebGPU: / : /^wasm \(Wasm (relaxed )?SIMD128, 2 threads, /);
  // the device works: a round trip through a kernel
  const s = auto.upload(new Float32Array([1, -2, 3]));
  const o = auto.alloc(3);
  auto.relu(s, o, 3);
  assert.equal(Array.from(await auto.read(o)), [1, 0, 3]);
  auto.dispose();
  if (adapter) {
    const explicit = await createBackend('webgpu');
    assert.is(explicit.kind, 'webgpu');
    explicit.dispose();
  } else {
    let err: unknown = null;
    try { await createBackend('webgpu'); } catch (e) { err = e; }
    assert.match(String(err), /no WebGPU adapter/);
  }
});

test("lavapipe is a software adapter (so 'auto' passes it over for the wasm backend)", async () => {
  const adapter = await requestAdapter();
  if (!adapter) return;
  const name = describeAdapter(adapter).description;
  if (/lavapipe|llvmpipe/i.test(name)) assert.ok(isSoftwareAdapter(adapter), name);
});

test("'wasm' gives the wasm backend with the threads asked for", async () => {
  for (const threads of [1, 3]) {
    const b = await createBackend('wasm', { threads });
    assert.is(b.kind, 'wasm');
    assert.match(describeBackend(b), new RegExp(`^wasm \\(Wasm (relaxed )?SIMD128, ${threads} threads?, shared memory\\)$`));
    b.dispose();
  }
  let err: unknown = null;
  try { await createBackend('wasm', { threads: 0 }); } catch (e) { err = e; }
  assert.match(String(err), /threads 0 must be an integer in \[1, 256\]/);
});

test('an unknown kind is a clear error', async () => {
  let err: unknown = null;
  try { await createBackend('tpu' as BackendKind); } catch (e) { err = e; }
  assert.match(String(err), /unknown backend kind "tpu"/);
});

test.run();
