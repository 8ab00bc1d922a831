// The browser demo end to end in a real headless Chromium (Debian's `chromium` package driven by
// playwright-core; WebGPU through --enable-unsafe-webgpu, adapter SwiftShader on machines without a
// GPU): scripts/serve.mjs serves web/ and the bundle, the page names its adapter, runs the kernel
// parity checks (WGSL vs the CPU reference) in the page, runs the GM-NAS demo (tiny preset) to the end
// and shows the genotype, the heatmaps and the tree; a screenshot goes to test-output/browser-demo.png.
// A page without navigator.gpu falls back to the CPU backend with a visible note.
//
// Without /usr/bin/chromium (or $GMNAS_CHROMIUM) the file skips with a message, except under CI=true, where that is a
// failure (.ci/run installs chromium). No WebGPU adapter inside the page is a failure too, unless
// GMNAS_ALLOW_NO_GPU=1 (as for the Node WebGPU tests).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
// GMNAS_CHROMIUM: another Chromium build (default: Debian's)
const CHROMIUM = process.env.GMNAS_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];
const SCREENSHOT = join(root, 'test-output/browser-demo.png');
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

  test('serve.mjs: module and wasm MIME types, only web/ dist/ build/', async () => {
    const base = server!.base;
    const get = (path: string) => fetch(base + path, { redirect: 'manual' });
    const js = await get('/dist/gmnas.browser.js');
    assert.is(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    await js.arrayBuffer();
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
    for (const path of ['/package.json', '/web/%2e%2e/package.json', '/dist/..%2f..%2fpackage.json', '/node_modules/uvu/package.json']) {
      const r = await get(path);
      assert.is(r.status, 404, `${path} must not be served`);
      await r.arrayBuffer();
    }
  });

  test('the page loads and names its WebGPU adapter', async () => {
    page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
    watch(page, 'demo page');
    await page.goto(`${server!.base}/web/?preset=tiny`);
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

  test('the GM-NAS demo runs to completion and shows heatmaps, tree and genotype', async () => {
    const p = page!;
    const t0 = Date.now();
    await p.click('#run');
    await p.waitForSelector('body[data-state="running"], body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
    // live progress: the status line changes while the search runs
    await p.waitForFunction(() => document.getElementById('status')!.textContent !== 'idle', undefined, { timeout: 120_000 });
    await p.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 900_000 });
    const state = await p.getAttribute('body', 'data-state');
    if (state !== 'done') assert.unreachable(`the demo failed: ${await p.textContent('#error')}`);
    const genotype = (await p.getAttribute('#genotype', 'data-genotype')) ?? '';
    console.log(`  [demo: ${await p.textContent('#status')}; final ${genotype}; ${ms(t0)}]`);
    const m = NB201_GENOTYPE.exec(genotype);
    assert.ok(m, `not an NB201 genotype: '${genotype}'`);
    for (const op of m!.slice(1)) assert.ok(NB201_OPS.includes(op), `unknown op ${op} in ${genotype}`);
    assert.ok(await p.isVisible('#genotype'));
    // tiny preset, GM: splits at epochs 1 and 2 → 1 + 2 splits, 7 nodes, 4 leaves
    const heatmaps = p.locator('#splits figure.split > svg.gm-heatmap');
    assert.is(await heatmaps.count(), 3);
    // and every candidate edge's matrix: 6 unsplit edges at the root, 5 in each child
    assert.is(await p.locator('#splits figure.split details svg.gm-heatmap').count(), 6 + 5 + 5);
    for (let i = 0; i < 3; i++) {
      assert.ok(await heatmaps.nth(i).isVisible(), `heatmap ${i} hidden`);
      // 5 ops on the split edge: 20 off-diagonal cells with a value each
      assert.ok(await heatmaps.nth(i).locator('rect title').count() >= 2, `heatmap ${i} has no cells`);
    }
    assert.is(await p.locator('#tree svg.partition-tree g.tree-node').count(), 7);
    assert.is(await p.getAttribute('progress#progress-bar', 'value'), '1');
    assert.match((await p.textContent('#final')) ?? '', /Selected by val-acc/);
    assert.is(await p.locator('#final table.genotype tr').count(), 3);
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await p.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(statSync(SCREENSHOT).size > 10_000, 'screenshot is suspiciously small');
    console.log(`  [screenshot: ${SCREENSHOT}]`);
  });

  test('without navigator.gpu the page falls back to the CPU backend with a visible note', async () => {
    const p = await browser!.newPage();
    watch(p, 'no-gpu page');
    await p.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true });
    });
    await p.goto(`${server!.base}/web/`);
    await p.waitForSelector('#adapter[data-ready]', { timeout: 60_000 });
    assert.is(await p.getAttribute('body', 'data-backend'), 'cpu');
    assert.ok(await p.isVisible('#fallback-note'), 'the fallback note must be visible');
    assert.match((await p.textContent('#fallback-note')) ?? '', /CPU backend/);
    assert.match((await p.textContent('#adapter')) ?? '', /CPU/);
    // the self-test has nothing to compare against and says so
    await p.click('#selftest');
    await p.waitForSelector('#selftest-summary[data-status]', { timeout: 10_000 });
    assert.is(await p.getAttribute('#selftest-summary', 'data-status'), 'skipped');
    await p.close();
  });

  test('no uncaught errors in the pages', () => {
    assert.equal(pageErrors, [], pageErrors.join('\n'));
    assert.equal(consoleErrors, [], consoleErrors.join('\n'));
  });
}

test.run();
