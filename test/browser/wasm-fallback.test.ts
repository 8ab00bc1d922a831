// The browser without WebGPU: headless Chromium without --enable-unsafe-webgpu (Debian's build then
// has navigator.gpu but no adapter) and with navigator.gpu removed from the page (an init script)
// and from the search worker (its script served with the same line in front), as in browsers that
// do not ship WebGPU. The demo page
// falls back to the wasm backend with a visible note, its self-test checks the wasm kernels against
// the CPU reference in the page, and a tiny GM-NAS search started through the library's
// startSearch runs to the end in the worker on the wasm backend — checked against the same search
// on the CPU reference backend in the same page (same tree, same pick, accuracies within float
// tolerance). serve.mjs sends COOP/COEP, so the page is cross-origin isolated and the memory
// shared: the page's own backend runs on one thread (a page may not block in Atomics.wait), the
// search worker's on kernel Web Workers (dist/gmnas.kernel-worker.js) — two, whatever the machine
// (the worker is told hardwareConcurrency is 2), so the search above runs split over two threads.
//
// Without /usr/bin/chromium (or $GMNAS_CHROMIUM) the file skips with a message, except under CI=true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CHROMIUM = process.env.GMNAS_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const inCi = process.env.CI === 'true' || process.env.CI === '1';
/** Removes navigator.gpu in a page (Navigator) or a worker (WorkerNavigator). */
const HIDE_GPU = "for (const N of [globalThis.Navigator, globalThis.WorkerNavigator]) if (N) Object.defineProperty(N.prototype, 'gpu', { get: () => undefined, configurable: true });\n";

/** The search worker sees two cores, so its wasm backend starts two kernel threads on any machine. */
const TWO_CORES = "Object.defineProperty(WorkerNavigator.prototype, 'hardwareConcurrency', { get: () => 2, configurable: true });\n";

/** The worker script of the kernel-threads test: convolutions (forward, fused-ReLU input gradient,
 *  weight gradient) on a 2-thread wasm backend with the caller taking no part, against the CPU backend. */
const KERNEL_THREADS_PROBE = `
import { createBackend, CpuBackend } from './gmnas.browser.js';
const g = { N: 6, Cin: 8, H: 8, W: 8, Cout: 8, KH: 3, KW: 3, OH: 8, OW: 8, strideH: 1, strideW: 1, padH: 1, padW: 1,
  dilH: 1, dilW: 1, groups: 1, reluInput: true };
const filled = (n, seed) => new Float32Array(n).map((_, i) => Math.sin(i * 0.618 + seed));
async function convs(be) {
  const nx = g.N * g.Cin * g.H * g.W, ny = g.N * g.Cout * g.OH * g.OW, nw = g.Cout * g.Cin * g.KH * g.KW;
  const x = be.upload(filled(nx, 1)), w = be.upload(filled(nw, 2)), dy = be.upload(filled(ny, 3));
  const y = be.alloc(ny), dx = be.alloc(nx), dw = be.alloc(nw);
  be.conv2d(x, w, null, y, g);
  be.conv2dInputGrad(dy, w, dx, g, x);
  be.conv2dWeightGrad(dy, x, dw, g);
  return Promise.all([y, dx, dw].map((s) => be.read(s)));
}
try {
  const be = await createBackend('wasm', { threads: 2 });
  be.threadPool.callerClaims = false;
  const got = await convs(be), want = await convs(new CpuBackend());
  let maxDiff = 0;
  got.forEach((a, i) => a.forEach((v, j) => { maxDiff = Math.max(maxDiff, Math.abs(v - want[i][j]) / (1 + Math.abs(want[i][j]))); }));
  postMessage({ description: be.description, theirs: be.threadPool.counts.theirs, maxDiff });
  be.dispose();
} catch (e) {
  postMessage({ error: String(e && e.stack || e) });
}
`;

function startServer(): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/serve.mjs'), '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`serve.mjs did not start within 20 s\n${out}`)); }, 20_000);
    child.stderr!.on('data', (d) => { out += d; });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/[^/\s]+)\/web\//.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, base: m[1] }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve.mjs exited (${code}) before listening\n${out}`)); });
  });
}

/** What the page's startSearch gave back, reduced to what the two backends must agree on. */
interface RunSummary {
  device: string;
  deviceBackend: string;
  deviceNote: string | null;
  genotype: string;
  finalNode: number;
  splits: { node: number; edge: number; groups: string[][]; children: number[]; distance: number[][] }[];
  leafMasks: string[];
  leafAccuracies: number[];
  resultDevice: string;
}

if (!existsSync(CHROMIUM)) {
  const why = `${CHROMIUM} not found: the browser test needs Debian's chromium`;
  if (inCi) test('chromium is installed (CI=true)', () => { assert.unreachable(why); });
  else console.log(`  [browser test SKIPPED: ${why}]`);
} else {
  let server: { child: ChildProcess; base: string } | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const errors: string[] = [];

  test.before(async () => {
    assert.ok(existsSync(join(root, 'dist/gmnas.browser.js')), 'dist/gmnas.browser.js is missing: run `node scripts/build.mjs` first');
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  });

  test.after(async () => {
    await browser?.close().catch(() => {});
    server?.child.kill('SIGTERM');
  });

  test('without navigator.gpu the page runs on the wasm backend, with a note, and its self-test passes', async () => {
    page = await browser!.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.addInitScript(HIDE_GPU);
    await page.route('**/dist/gmnas.worker.js', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: HIDE_GPU + TWO_CORES + await response.text() });
    });
    await page.goto(`${server!.base}/web/?preset=browser-tiny`);
    await page.waitForSelector('#adapter[data-ready]', { timeout: 60_000 });
    assert.is(await page.evaluate(() => typeof (navigator as { gpu?: unknown }).gpu), 'undefined', 'navigator.gpu is still there');
    assert.ok(await page.evaluate(() => crossOriginIsolated), 'the page is not cross-origin isolated');
    assert.is(await page.getAttribute('body', 'data-backend'), 'wasm');
    assert.ok(await page.isVisible('#fallback-note'), 'the fallback note must be visible');
    const note = (await page.textContent('#fallback-note')) ?? '';
    assert.match(note, /wasm backend/);
    assert.match(note, /no WebGPU \(navigator\.gpu\)/);
    assert.match((await page.textContent('#adapter')) ?? '', /^Wasm (relaxed )?SIMD128, 1 thread, shared memory$/);
    await page.click('#selftest');
    await page.waitForSelector('#selftest-summary[data-status]', { timeout: 120_000 });
    const summary = (await page.textContent('#selftest-summary')) ?? '';
    console.log(`  [page self-test on wasm: ${summary}]`);
    assert.is(await page.getAttribute('#selftest-summary', 'data-status'), 'pass', summary);
    assert.ok(Number(await page.getAttribute('#selftest-summary', 'data-total')) >= 30);
  });

  test('a tiny search started with startSearch runs on the wasm backend in the worker, as on the CPU backend', async () => {
    const p = page!;
    const runs = await p.evaluate(async () => {
      const lib = (window as unknown as { gmnasDemo: { lib: Record<string, unknown> } }).gmnasDemo.lib as {
        startSearch(o: Record<string, unknown>): { result: Promise<Record<string, unknown>> };
      };
      const one = async (device: string): Promise<RunSummary> => {
        let dev = { name: '', backend: '', note: null as string | null };
        const run = lib.startSearch({
          dataset: 'synthetic', preset: 'browser-tiny', seed: 3, device,
          config: { trainLimit: 256, syntheticSize: 256, stepsPerEpoch: 3, splitEpochs: [1], totalEpochs: 2, valBatches: 2, batchSize: 16 },
          onDevice: (d: { name: string; backend: string; note: string | null }) => { dev = d; },
        });
        const r = await run.result as {
          final: { genotype: string; node: number }; splits: unknown; device: string;
          leaves: { mask: string; supernetVal: { accuracy: number } }[];
        };
        return {
          device: dev.name, deviceBackend: dev.backend, deviceNote: dev.note, genotype: r.final.genotype, finalNode: r.final.node,
          splits: r.splits as RunSummary['splits'], leafMasks: r.leaves.map((l) => String(l.mask)),
          leafAccuracies: r.leaves.map((l) => l.supernetVal.accuracy), resultDevice: String(r.device),
        };
      };
      return { wasm: await one('auto'), cpu: await one('cpu') };
    }) as { wasm: RunSummary; cpu: RunSummary };
    const { wasm, cpu } = runs;
    console.log(`  [worker: ${wasm.device}; pick ${wasm.genotype}]`);
    assert.is(wasm.deviceBackend, 'wasm');
    assert.match(wasm.device, /^Wasm (relaxed )?SIMD128, 2 threads, shared memory$/);
    assert.match(wasm.deviceNote ?? '', /no WebGPU \(navigator\.gpu\); using the wasm backend/);
    assert.match(wasm.resultDevice, /wasm|Wasm/);
    assert.is(cpu.deviceBackend, 'cpu');
    const decisions = (r: RunSummary): string => JSON.stringify(r.splits.map((s) => [s.node, s.edge, s.groups, s.children]));
    assert.is(decisions(wasm), decisions(cpu), 'the split decisions differ between the wasm and CPU backends');
    assert.ok(wasm.splits.length >= 1, 'no split happened');
    wasm.splits.forEach((s, i) => s.distance.forEach((row, a) => row.forEach((d, b) => assert.ok(Math.abs(d - cpu.splits[i].distance[a][b]) <= 1e-4,
      `split ${i}: distance[${a}][${b}] ${d} on wasm vs ${cpu.splits[i].distance[a][b]} on the CPU backend`))));
    assert.equal(wasm.leafMasks, cpu.leafMasks);
    assert.is(wasm.genotype, cpu.genotype);
    assert.is(wasm.finalNode, cpu.finalNode);
    wasm.leafAccuracies.forEach((a, i) => assert.ok(Math.abs(a - cpu.leafAccuracies[i]) <= 1.0,
      `leaf ${i}: supernet accuracy ${a} on wasm vs ${cpu.leafAccuracies[i]} on the CPU backend`));
  });

  test('kernel Web Workers: a 2-thread wasm backend in a dedicated worker, its workers running every part, gives the CPU results', async () => {
    // a module worker importing the library bundle (served in place of a made-up file next to it, with
    // serve.mjs's COOP/COEP headers); ThreadPool.callerClaims = false leaves every part to the kernel worker
    await page!.route('**/dist/kernel-threads-probe.js', async (route) => {
      const response = await route.fetch({ url: `${server!.base}/dist/gmnas.kernel-worker.js` });
      await route.fulfill({ response, body: KERNEL_THREADS_PROBE });
    });
    const r = await page!.evaluate(() => new Promise<Record<string, unknown>>((resolve) => {
      const w = new Worker('/dist/kernel-threads-probe.js', { type: 'module' });
      w.onmessage = (e) => { resolve(e.data as Record<string, unknown>); w.terminate(); };
      w.onerror = (e) => { resolve({ error: `worker error: ${e.message}` }); w.terminate(); };
    }));
    assert.is(r.error, undefined, String(r.error));
    assert.match(String(r.description), /^Wasm (relaxed )?SIMD128, 2 threads, shared memory$/);
    assert.ok(Number(r.theirs) >= 6, `the kernel worker ran ${String(r.theirs)} parts of 3 split calls`);
    assert.ok(Number(r.maxDiff) <= 1e-3, `largest difference from the CPU reference: ${String(r.maxDiff)}`);
  });

  test('no uncaught errors in the page', () => {
    assert.equal(errors, [], errors.join('\n'));
  });
}

test.run();
