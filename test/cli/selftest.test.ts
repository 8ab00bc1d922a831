// `node run.js selftest` end to end, as a user runs it: quick mode on this machine's adapter (lavapipe
// in CI) passes and prints its rows; a test-only fault injected into one kernel makes it fail and name
// that kernel; --json is one JSON object per line. Plus the public API entry a page would call.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requestAdapter } from '../../src/engine/webgpu/device.js';
import { CpuBackend, createBackend, runSelftest } from '../../src/index.js';

// dist/test/cli/selftest.test.js -> the repository root
const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));

const hasAdapter = (await requestAdapter()) !== null;
if (!hasAdapter && process.env.GMNAS_ALLOW_NO_GPU !== '1') {
  throw new Error('no WebGPU adapter: the selftest command cannot be tested. Install Mesa lavapipe or set GMNAS_ALLOW_NO_GPU=1 to skip.');
}
if (!hasAdapter) console.log('  [no WebGPU adapter: selftest WebGPU tests SKIPPED (GMNAS_ALLOW_NO_GPU=1)]');

// (how long the quick self-test takes is a benchmark row, `npm run bench -- --sections tools`)
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUN_JS, ...args], { env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' } });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const ROW = /^(.+?)\s+(forward|backward|step|check)\s+.*\s(pass|FAIL)$/;

test('selftest --quick --device webgpu passes, names the adapter and prints one row per kernel check', async () => {
  if (!hasAdapter) return;
  const r = await runCli(['selftest', '--quick', '--device', 'webgpu']);
  assert.is(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^adapter: \S/m);
  assert.match(r.stdout, /vendor '.*', architecture '.*'.*(FALLBACK adapter|not a fallback adapter)/);
  assert.match(r.stdout, /limits requested: .*maxStorageBuffersPerShaderStage=\d+/);
  const rows = r.stdout.split('\n').filter((l) => ROW.test(l));
  assert.ok(rows.length >= 20, `expected >= 20 rows, got ${rows.length}:\n${r.stdout}`);
  assert.ok(rows.every((l) => l.endsWith('pass')));
  for (const name of ['conv2d 3x3 pad 1 + bias', 'conv2d s2 d2 groups 2', 'NB201 relu-conv3x3 C16 32x32', 'batchNorm train affine', 'crossEntropy']) {
    assert.ok(rows.some((l) => l.startsWith(name) && / forward /.test(l)), `no forward row for ${name}`);
    assert.ok(rows.some((l) => l.startsWith(name) && / backward /.test(l)), `no backward row for ${name}`);
  }
  assert.match(r.stdout, /supernet training step: NB201 supernet/);
  assert.match(r.stdout, /loss\s+cpu \d+\.\d+\s+webgpu \d+\.\d+/);
  assert.match(r.stdout, /grad norm\s+cpu \d+\.\d+\s+webgpu \d+\.\d+/);
  assert.match(r.stdout, /all \d+ kernel checks and the supernet step passed/);
});

test('--inject-fault conv2d: non-zero exit, and the failure names conv2d', async () => {
  if (!hasAdapter) return;
  const r = await runCli(['selftest', '--quick', '--device', 'webgpu', '--inject-fault', 'conv2d']);
  assert.is.not(r.code, 0, r.stdout);
  assert.match(r.stdout, /fault injected into kernel 'conv2d'/);
  assert.match(r.stdout, /^conv2d 3x3 pad 1 \+ bias\s+forward .*FAIL$/m);
  const summary = r.stdout.slice(r.stdout.indexOf('FAILED'));
  assert.match(summary, /FAILED \(\d+\):/);
  assert.match(summary, /conv2d 3x3 pad 1 \+ bias \(forward; kernels conv2d/);
  assert.match(summary, /failing kernels: .*\bconv2d\b/);
  // rows that do not use conv2d still pass
  assert.match(r.stdout, /^relu\s+forward .*pass$/m);
});

test('--json: every line is JSON; rows, the supernet step and a summary', async () => {
  if (!hasAdapter) return;
  const r = await runCli(['selftest', '--quick', '--json', '--inject-fault', 'batchNormBackward']);
  assert.is.not(r.code, 0);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines[0].adapter && typeof lines[0].adapter.description === 'string', 'first line names the adapter');
  assert.type(lines[0].adapter.isFallbackAdapter, 'boolean');
  assert.ok(lines[0].adapter.limits.maxStorageBuffersPerShaderStage >= 8);
  const rows = lines.filter((l) => l.phase);
  assert.ok(rows.length >= 20);
  for (const row of rows) for (const k of ['name', 'shape', 'maxAbs', 'maxRel', 'rtol', 'atol', 'ms', 'pass']) assert.ok(k in row, `row lacks ${k}`);
  const bad = rows.filter((x) => !x.pass);
  assert.ok(bad.length > 0 && bad.every((x) => x.kernels.includes('batchNormBackward')), JSON.stringify(bad.map((x) => x.name)));
  const step = lines.find((l) => l.supernetStep)?.supernetStep;
  assert.ok(step && Number.isFinite(step.lossCpu) && Number.isFinite(step.gradNormGpu));
  const summary = lines[lines.length - 1];
  assert.is(summary.summary, true);
  assert.ok(summary.failedKernels.includes('batchNormBackward'));
});

test('selftest --quick --device wasm --threads 2 --json: every kernel row and the supernet step pass on the wasm backend', async () => {
  const r = await runCli(['selftest', '--quick', '--device', 'wasm', '--threads', '2', '--json']);
  assert.is(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const rows = lines.filter((o) => 'pass' in o && 'phase' in o);
  assert.ok(rows.length >= 20, `${rows.length} rows`);
  assert.ok(rows.every((o) => o.pass), 'every row passes');
  assert.ok(rows.some((o) => /conv/.test(o.name)), 'convolution rows');
  const summary = lines.find((o) => o.summary);
  assert.is(summary.device, 'wasm');
  assert.match(summary.adapter, /^Wasm (relaxed )?SIMD128, 2 threads/);
  assert.ok(lines.some((o) => o.supernetStep?.pass), 'the supernet step passes');
});

test('an unknown --inject-fault kernel is a usage error', async () => {
  const r = await runCli(['selftest', '--quick', '--inject-fault', 'nope']);
  assert.is(r.code, 2);
  assert.match(r.stderr, /--inject-fault nope: expected one of .*conv2d/);
});

test('public API: runSelftest on createBackend(webgpu) vs CpuBackend reports rows and failing kernels', async () => {
  if (!hasAdapter) return;
  const gpu = await createBackend('webgpu');
  try {
    const ok = await runSelftest(gpu, new CpuBackend(), { quick: true, supernetStep: false });
    assert.equal(ok.failed, []);
    assert.is(ok.passed, ok.rows.length);
    assert.is(ok.step, null);
    const bad = await runSelftest(gpu, new CpuBackend(), { quick: true, supernetStep: false, faultKernel: 'matmul' });
    assert.ok(bad.failedKernels.includes('matmul'), bad.failed.join('; '));
    assert.ok(bad.failed.some((f) => f.startsWith('linear (forward')), bad.failed.join('; '));
  } finally {
    gpu.dispose();
  }
});

test.run();
