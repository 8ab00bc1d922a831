// The browser demo end to end in a real headless Chromium (Debian's `chromium` package driven by
// playwright-core; WebGPU through --enable-unsafe-webgpu, adapter SwiftShader on machines without a
// GPU): scripts/serve.mjs serves web/, the bundles and data/ cross-origin isolated; the page names its
// adapter, runs the kernel parity checks (WGSL vs the CPU reference) in the page, loads the embedded
// Fashion-MNIST subset (compared with the Node reader's copy), reads user files (IDX, CIFAR, and wrong
// ones with clear messages), runs the GM-NAS search (browser-tiny preset) to the end in a Web Worker
// while a main-thread timer keeps ticking, draws the heatmaps, tree, curve and leaf scores, and offers
// result.json and the final checkpoint for download (both checked); a second run is stopped with the
// Stop button. The screenshot goes to test-output/browser-demo.png. A page without navigator.gpu:
// test/browser/wasm-fallback.test.ts (the wasm backend).
//
// Without /usr/bin/chromium (or $GMNAS_CHROMIUM) the file skips with a message, except under CI=true, where that is a
// failure (.ci/run installs chromium). No WebGPU adapter inside the page is a failure too, unless
// GMNAS_ALLOW_NO_GPU=1 (as for the Node WebGPU tests).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readEmbeddedFashionMnist } from '../../src/data/readers/embedded.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
// GMNAS_CHROMIUM: another Chromium build (default: Debian's)
const CHROMIUM = process.env.GMNAS_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SCREENSHOT = join(root, 'test-output/browser-demo.png');
const DOWNLOADS = join(root, 'test-output/browser-downloads');
// the test preset: the smallest browser preset (src/browser/presets.ts), sized for software adapters
const TEST_PRESET = 'browser-tiny';
/** every leaf of the Fashion-MNIST search must be clear of chance (10 %): its supernet's validation
 *  accuracy at least this (measured 47-50 % with seeds 0 and 1 on the CPU backend) */
const LEAF_MIN_ACCURACY = 25;
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const allowNoGpu = process.env.GMNAS_ALLOW_NO_GPU === '1';
const NB201_GENOTYPE = /^\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|$/;
const NB201_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'];

/** Starts scripts/serve.mjs on a free port; resolves with its base address (http://127.0.0.1:PORT). */
function startServer(): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/serve.mjs'), '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => { child.kill(); reject(new Error(`serve.mjs did not start within 20 s\n${out}${err}`)); }, 20_000);
    child.stderr!.on('data', (d) => { err += d; });
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /serving (http:\/\/[^/\s]+)\/web\//.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, base: m[1] }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`serve.mjs exited (${code}) before listening\n${out}${err}`)); });
  });
}

function ms(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

if (!existsSync(CHROMIUM)) {
  const why = `${CHROMIUM} not found: the browser test needs Debian's chromium ` +
    '(apt-get install -y --no-install-recommends chromium; .ci/run installs it)';
  if (inCi) {
    test('chromium is installed (CI=true)', () => { assert.unreachable(why); });
  } else {
    console.log(`  [browser test SKIPPED: ${why}]`);
  }
} else {
  let server: { child: ChildProcess; base: string } | null = null;
  let browser: Browser | null = null;
  let page: Page | null = null;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];

  const watch = (p: Page, tag: string): void => {
    p.on('pageerror', (e) => pageErrors.push(`${tag}: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${tag}: ${m.text()}`); });
  };

  test.before(async () => {
    assert.ok(existsSync(join(root, 'dist/gmnas.browser.js')), 'dist/gmnas.browser.js is missing: run `node scripts/build.mjs` first');
    server = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    console.log(`  [chromium ${browser.version()}, serving ${server.base}]`);
  });

  test.after(async () => {
    await browser?.close().catch(() => {});
    server?.child.kill('SIGTERM');
  });

  test('serve.mjs: module and wasm MIME types, data/, cross-origin isolation, only web/ dist/ build/ data/', async () => {
    const base = server!.base;
    const get = (path: string) => fetch(base + path, { redirect: 'manual' });
    const js = await get('/dist/gmnas.browser.js');
    assert.is(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.is(js.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.is(js.headers.get('cross-origin-embedder-policy'), 'require-corp');
    await js.arrayBuffer();
    const worker = await get('/dist/gmnas.worker.js');
    assert.is(worker.status, 200);
    assert.match(worker.headers.get('content-type') ?? '', /^text\/javascript/);
    await worker.arrayBuffer();
    // the gzip files go out as they are on disk (no Content-Encoding: the page checks and unpacks them)
    const gz = await get('/data/fashion-mnist/train-labels-idx1-ubyte.gz');
    assert.is(gz.status, 200);
    assert.is(gz.headers.get('content-type'), 'application/gzip');
    assert.is(gz.headers.get('content-encoding'), null);
    const gzBytes = new Uint8Array(await gz.arrayBuffer());
    assert.equal(gzBytes, new Uint8Array(readFileSync(join(root, 'data/fashion-mnist/train-labels-idx1-ubyte.gz'))));
    const sums = await get('/data/fashion-mnist/SHA256SUMS');
    assert.match(sums.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(await sums.text(), /train-images-idx3-ubyte\.gz/);
    const missing = await get('/no-such-folder/');
    assert.is(missing.headers.get('cross-origin-embedder-policy'), 'require-corp');
    await missing.arrayBuffer();
    const html = await get('/web/');
    assert.is(html.status, 200);
    assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await html.text(), /demo\.js/);
    if (existsSync(join(root, 'build/gmnas.wasm'))) {
      const wasm = await get('/build/gmnas.wasm');
      assert.is(wasm.status, 200);
      assert.is(wasm.headers.get('content-type'), 'application/wasm');
      const bytes = new Uint8Array(await wasm.arrayBuffer());
      assert.equal([...bytes.subarray(0, 4)], [0x00, 0x61, 0x73, 0x6d]);
    }
    const top = await get('/');
    assert.is(top.status, 302);
    assert.is(top.headers.get('location'), '/web/');
    for (const path of ['/package.json', '/web/%2e%2e/package.json', '/dist/..%2f..%2fpackage.json', '/node_modules/uvu/package.json', '/data/../src/index.ts', '/test/browser/demo.test.ts']) {
      const r = await get(path);
      assert.is(r.status, 404, `${path} must not be served`);
      await r.arrayBuffer();
    }
  });

  test('the page loads and names its WebGPU adapter', async () => {
    page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    watch(page, 'demo page');
    await page.goto(`${server!.base}/web/?preset=${TEST_PRESET}`);
    await page.waitForSelector('#adapter[data-ready]', { timeout: 60_000 });
    const name = (await page.textContent('#adapter')) ?? '';
    const backend = await page.getAttribute('body', 'data-backend');
    console.log(`  [page device: ${name}]`);
    if (backend !== 'webgpu') {
      const note = await page.textContent('#fallback-note');
      if (!allowNoGpu) {
        assert.unreachable(`no WebGPU device in Chromium (${CHROMIUM} ${CHROMIUM_ARGS.join(' ')}): ${note}. ` +
          'Set GMNAS_ALLOW_NO_GPU=1 to run the page on the CPU backend instead.');
      }
      console.log('  [no WebGPU in the page: kernel parity SKIPPED, demo on the CPU backend (GMNAS_ALLOW_NO_GPU=1)]');
      return;
    }
    assert.match(name, /^WebGPU: /);
    assert.ok(await page.isHidden('#fallback-note'), 'the CPU fallback note must be hidden on WebGPU');
    // Run waits for the data
    await page.waitForSelector('#data[data-ready], #data[data-error]', { timeout: 120_000 });
    assert.ok(await page.isEnabled('#run'));
    assert.ok(await page.isEnabled('#selftest'));
  });

  test('kernel parity checks (WGSL vs CPU reference) pass inside the page', async () => {
    const p = page!;
    if ((await p.getAttribute('body', 'data-backend')) !== 'webgpu') return; // said so above
    const t0 = Date.now();
    await p.click('#selftest');
    await p.waitForSelector('#selftest-summary[data-status]', { timeout: 300_000 });
    const status = await p.getAttribute('#selftest-summary', 'data-status');
    const summary = (await p.textContent('#selftest-summary')) ?? '';
    console.log(`  [self-test: ${summary}; ${ms(t0)}]`);
    assert.is(status, 'pass', summary);
    const total = Number(await p.getAttribute('#selftest-summary', 'data-total'));
    const passed = Number(await p.getAttribute('#selftest-summary', 'data-passed'));
    assert.ok(total >= 30, `only ${total} kernel checks ran`);
    assert.is(passed, total);
    assert.is(await p.locator('#selftest-result tbody tr').count(), total);
    assert.is(await p.locator('#selftest-result td.fail').count(), 0);
  });

  test('the page loads the embedded Fashion-MNIST (same images and labels as the Node reader)', async () => {
    const p = page!;
    await p.waitForSelector('#data[data-ready], #data[data-error]', { timeout: 120_000 });
    assert.is(await p.getAttribute('#data', 'data-error'), null, (await p.textContent('#data-error')) ?? '');
    assert.is(await p.getAttribute('#data', 'data-name'), 'fashion-mnist-embedded');
    assert.is(await p.getAttribute('#data', 'data-size'), '12000');
    assert.is(await p.getAttribute('#data-bar', 'value'), '1');
    // decompressed by zlib and read by the Node reader of the embedded set, compared with
    // DecompressionStream and the page's loader
    const node = readEmbeddedFashionMnist({ split: 'train' });
    const inPage = await p.evaluate(() => {
      const ds = (window as unknown as { gmnasDemo: { dataset: { images: Uint8Array; labels: Int32Array; height: number; width: number; mean: number[] } } }).gmnasDemo.dataset;
      let pixelSum = 0;
      for (let i = 0; i < ds.images.length; i++) pixelSum += ds.images[i];
      return { pixelSum, labels: Array.from(ds.labels.subarray(0, 50)), last: Array.from(ds.images.subarray(ds.images.length - 784)), h: ds.height, w: ds.width, mean: ds.mean };
    });
    let pixelSum = 0;
    for (let i = 0; i < node.images.length; i++) pixelSum += node.images[i];
    assert.is(inPage.pixelSum, pixelSum);
    assert.equal(inPage.labels, Array.from(node.labels.subarray(0, 50)));
    assert.equal(inPage.last, Array.from(node.images.subarray(node.images.length - 784)));
    assert.equal([inPage.h, inPage.w], [28, 28]);
    assert.equal(inPage.mean, node.mean);
  });

  test('user files: wrong ones get a clear message, IDX (.gz) and CIFAR binary batches load', async () => {
    const p = page!;
    const pick = async (files: { name: string; buffer: Buffer }[]): Promise<void> => {
      await p.setInputFiles('#file-picker', files.map((f) => ({ ...f, mimeType: 'application/octet-stream' })));
    };
    const errorText = async (): Promise<string> => {
      await p.waitForSelector('#data-error:not([hidden]), #data[data-ready]', { timeout: 30_000 });
      return (await p.isVisible('#data-error')) ? ((await p.textContent('#data-error')) ?? '') : '';
    };
    // a JPEG header: neither IDX nor a CIFAR batch, named in the message
    await pick([{ name: 'photo.jpg', buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 5]) }]);
    await p.waitForSelector('#data-error:not([hidden])', { timeout: 30_000 });
    assert.match((await p.textContent('#data-error')) ?? '', /photo\.jpg: neither an IDX file .*0xffd8ffe0.* nor a CIFAR binary batch \(9 bytes/);
    // IDX images without their labels
    const images = readFileSync(join(root, 'data/fashion-mnist/train-images-idx3-ubyte.gz'));
    const labels = readFileSync(join(root, 'data/fashion-mnist/train-labels-idx1-ubyte.gz'));
    await pick([{ name: 'train-images-idx3-ubyte.gz', buffer: images }]);
    await p.waitForFunction(() => /labels file/.test(document.getElementById('data-error')!.textContent ?? ''), undefined, { timeout: 30_000 });
    assert.match((await p.textContent('#data-error')) ?? '', /exactly one images file .* and one labels file .*got 1 images and 0 labels/);
    assert.is(await p.getAttribute('#data', 'data-size'), '12000', 'a rejected pick keeps the loaded dataset');
    // a truncated CIFAR-10 batch
    await pick([{ name: 'data_batch_1.bin', buffer: Buffer.alloc(3073 + 10) }]);
    await p.waitForFunction(() => /data_batch_1\.bin has 3083 bytes/.test(document.getElementById('data-error')!.textContent ?? ''), undefined, { timeout: 30_000 });
    // a good IDX pair, gzip-compressed (the embedded files themselves)
    await pick([{ name: 'train-labels-idx1-ubyte.gz', buffer: labels }, { name: 'train-images-idx3-ubyte.gz', buffer: images }]);
    await p.waitForFunction(() => document.getElementById('data')!.dataset.name === 'mnist', undefined, { timeout: 30_000 });
    assert.ok(await p.isHidden('#data-error'));
    assert.is(await p.getAttribute('#data', 'data-size'), '12000');
    // a good CIFAR-10 batch of three records: label byte, then 1024 R, 1024 G, 1024 B
    const rec = (label: number, value: number): Buffer => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, value)]);
    await pick([{ name: 'data_batch_1.bin', buffer: Buffer.concat([rec(3, 10), rec(7, 20), rec(9, 30)]) }]);
    await p.waitForFunction(() => document.getElementById('data')!.dataset.name === 'cifar10', undefined, { timeout: 30_000 });
    const cifar = await p.evaluate(() => {
      const ds = (window as unknown as { gmnasDemo: { dataset: { images: Uint8Array; labels: Int32Array; channels: number; size: number } } }).gmnasDemo.dataset;
      return { size: ds.size, channels: ds.channels, labels: Array.from(ds.labels), px: [ds.images[0], ds.images[3072], ds.images[3 * 3072 - 1]] };
    });
    assert.equal(cifar, { size: 3, channels: 3, labels: [3, 7, 9], px: [10, 20, 30] });
    // back to the embedded set for the search
    await p.click('#use-embedded');
    await p.waitForFunction(() => document.getElementById('data')!.dataset.name === 'fashion-mnist-embedded', undefined, { timeout: 60_000 });
  });

  test(`GM-NAS (${TEST_PRESET}) runs to the end in a Web Worker: main thread responsive, leaves clear of chance, downloads`, async () => {
    const p = page!;
    const t0 = Date.now();
    const workerUrls: string[] = [];
    p.on('worker', (w) => workerUrls.push(w.url()));
    // a main-thread timer of the test's own: it must keep ticking while the search trains
    await p.evaluate(() => {
      const w = window as unknown as { testTicks: { n: number; maxGap: number; last: number } };
      w.testTicks = { n: 0, maxGap: 0, last: performance.now() };
      setInterval(() => { const t = performance.now(); w.testTicks.maxGap = Math.max(w.testTicks.maxGap, t - w.testTicks.last); w.testTicks.last = t; w.testTicks.n++; }, 50);
    });
    await p.click('#run');
    await p.waitForSelector('body[data-state="running"], body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
    await p.waitForFunction(() => document.getElementById('status')!.textContent !== 'idle', undefined, { timeout: 120_000 });
    // the page answers while the worker trains: an evaluate round trip during training
    await p.waitForFunction(() => /warmup|split|leaf/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 120_000 });
    assert.ok(await p.isEnabled('#stop'), 'Stop is enabled while the search runs');
    await p.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 900_000 });
    const state = await p.getAttribute('body', 'data-state');
    if (state !== 'done') assert.unreachable(`the demo failed: ${await p.textContent('#error')}`);
    const seconds = (Date.now() - t0) / 1000;
    const ticks = await p.evaluate(() => (window as unknown as { testTicks: { n: number; maxGap: number } }).testTicks);
    const genotype = (await p.getAttribute('#genotype', 'data-genotype')) ?? '';
    console.log(`  [demo: ${await p.textContent('#status')}; final ${genotype}; ${ms(t0)}; main-thread timer ${ticks.n} ticks, longest gap ${Math.round(ticks.maxGap)} ms]`);
    assert.ok(workerUrls.some((u) => /\/dist\/gmnas\.worker\.js$/.test(u)), `no search worker was started (workers: ${workerUrls.join(', ') || 'none'})`);
    // trained on the main thread, an epoch would hold the timer for seconds; in the worker only drawing does
    assert.ok(ticks.maxGap < 3000, `the main thread was blocked for ${Math.round(ticks.maxGap)} ms`);
    assert.ok(ticks.n > (seconds * 1000 / 50) * 0.3, `the 50 ms timer ticked only ${ticks.n} times in ${seconds.toFixed(0)} s`);
    const m = NB201_GENOTYPE.exec(genotype);
    assert.ok(m, `not an NB201 genotype: '${genotype}'`);
    for (const op of m!.slice(1)) assert.ok(NB201_OPS.includes(op), `unknown op ${op} in ${genotype}`);
    // browser-tiny, GM: one split (at epoch 2) → 3 nodes, 2 leaves; every edge a candidate at the root
    const heatmaps = p.locator('#splits figure.split > svg.gm-heatmap');
    assert.is(await heatmaps.count(), 1);
    assert.is(await p.locator('#splits figure.split details svg.gm-heatmap').count(), 6);
    assert.is(await p.locator('#tree svg.partition-tree g.tree-node').count(), 3);
    assert.is(await p.getAttribute('progress#progress-bar', 'value'), '1');
    assert.match((await p.textContent('#final')) ?? '', /Selected by supernet-val-acc/);
    assert.is(await p.locator('#final table.genotype tr').count(), 3);
    // the live charts: the final lineage's curve and one bar per leaf
    assert.is(await p.locator('#curve svg.curve g.series.highlight').count(), 1);
    const accs = (await p.locator('#leaf-scores g.leaf-score').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-accuracy')))));
    const paths = (await p.locator('#leaf-scores g.leaf-score').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-secondary')))));
    assert.is(accs.length, 2);
    console.log(`  [leaves' validation accuracy: supernet ${accs.map((a) => a.toFixed(1)).join(', ')} %, derived path ${paths.map((a) => a.toFixed(1)).join(', ')} % (chance 10 %)]`);
    for (const a of accs) assert.ok(a >= LEAF_MIN_ACCURACY, `a leaf scored ${a.toFixed(1)} %, not clear of chance (10 %); wanted >= ${LEAF_MIN_ACCURACY} %`);

    // downloads: result.json and the final leaf's checkpoint
    mkdirSync(DOWNLOADS, { recursive: true });
    const save = async (button: string): Promise<{ name: string; bytes: Buffer }> => {
      const [dl] = await Promise.all([p.waitForEvent('download', { timeout: 30_000 }), p.click(button)]);
      const path = join(DOWNLOADS, dl.suggestedFilename());
      await dl.saveAs(path);
      return { name: dl.suggestedFilename(), bytes: readFileSync(path) };
    };
    const resultFile = await save('#download-result');
    assert.is(resultFile.name, 'result.json');
    const result = JSON.parse(resultFile.bytes.toString('utf8'));
    assert.is(result.final.genotype, genotype);
    assert.is(result.dataset.name, 'fashion-mnist-embedded');
    assert.is(result.config.dataset, 'fashion-mnist-embedded');
    assert.is(result.dataset.trainImages, 2000);
    assert.equal(result.dataset.imageShape, [1, 8, 8]);
    assert.is(result.leaves.length, 2);
    assert.equal(result.leaves.map((l: { supernetVal: { accuracy: number } }) => Number(l.supernetVal.accuracy.toFixed(2))), accs);
    assert.equal(result.leaves.map((l: { val: { accuracy: number } }) => Number(l.val.accuracy.toFixed(2))), paths);
    assert.is(result.final.selectedBy, 'supernet-val-acc');
    assert.is(result.final.node, result.leaves.reduce((a: { supernetVal: { accuracy: number } }, b: { supernetVal: { accuracy: number } }) => (b.supernetVal.accuracy > a.supernetVal.accuracy ? b : a)).node);
    const ck = await save('#download-checkpoint');
    assert.is(ck.name, `node-${result.final.node}.safetensors`);
    // sealed like the CLI's checkpoints: a checksum that must be present and match
    const decoded = decodeSafetensors(new Uint8Array(ck.bytes), ck.name, { requireChecksum: true });
    assert.is(decoded.checksum, 'verified');
    const finalLeaf = result.leaves.find((l: { node: number }) => l.node === result.final.node);
    assert.is(decoded.metadata.format, 'gmnas.nb201.supernet/1');
    assert.is(decoded.metadata.mask, finalLeaf.mask);
    assert.is(decoded.metadata.C, String(result.config.channels));
    assert.is(JSON.parse(decoded.metadata.gmnas_progress).epochsDone, result.config.totalEpochs);
    assert.ok(decoded.tensors.size > 10, `only ${decoded.tensors.size} tensors in the checkpoint`);
    for (const [name, t] of decoded.tensors) assert.ok(t.data.every(Number.isFinite), `${name} has non-finite values`);

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await p.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 10_000, 'screenshot is suspiciously small');
    console.log(`  [screenshot: ${SCREENSHOT}]`);
  });

  test('Stop ends a running search cleanly and the page can run again', async () => {
    const p = page!;
    const workers: { url: string; closed: boolean }[] = [];
    p.on('worker', (w) => { const rec = { url: w.url(), closed: false }; workers.push(rec); w.on('close', () => { rec.closed = true; }); });
    assert.ok(await p.evaluate(() => crossOriginIsolated), 'the page is not cross-origin isolated (COOP/COEP headers)');
    await p.click('#run');
    // stop once the worker is training (a progress line after the first step)
    await p.waitForFunction(() => /warmup · node 0 .* [1-9]\d*\/\d+/.test(document.getElementById('status')!.textContent ?? ''), undefined, { timeout: 120_000 });
    const t0 = Date.now();
    await p.click('#stop');
    await p.waitForSelector('body[data-state="stopped"], body[data-state="error"], body[data-state="done"]', { timeout: 60_000 });
    assert.is(await p.getAttribute('body', 'data-state'), 'stopped', (await p.textContent('#error')) ?? '');
    console.log(`  [stopped in ${ms(t0)}: ${await p.textContent('#status')}]`);
    assert.match((await p.textContent('#log')) ?? '', /stopped: stopped by the user/);
    assert.ok(!/did not answer/.test((await p.textContent('#log')) ?? ''), 'the worker had to be terminated without its answer');
    // terminated by the page: playwright reports it closed, or at least no longer lists it
    const alive = (): boolean => !workers[0]?.closed && p.workers().some((w) => /gmnas\.worker\.js$/.test(w.url()));
    for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    assert.is(workers.length, 1, `workers started: ${JSON.stringify(workers)}`);
    assert.not.ok(alive(), `the stopped worker is still alive (${JSON.stringify(workers)})`);
    assert.ok(await p.isEnabled('#run'), 'Run is enabled again after a stop');
    assert.ok(await p.isDisabled('#stop'));
  });

  test('no uncaught errors in the pages', () => {
    assert.equal(pageErrors, [], pageErrors.join('\n'));
    assert.equal(consoleErrors, [], consoleErrors.join('\n'));
  });
}

test.run();
