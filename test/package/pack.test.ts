// The package as npm users get it: `npm pack` (its prepack builds dist/ and the .d.ts declarations)
// must hold dist, both browser bundles, the declarations, the embedded Fashion-MNIST with its licence
// and sums — and nothing of tests or TypeScript sources. The tarball is then installed into a scratch
// TypeScript project under test-output/, which type-checks against the declarations of `gmnas` and
// `gmnas/browser` (a deliberately wrong call must fail to type-check, so the types are real) and runs
// a tiny search through the public API on the CPU backend.
//
// Installing without the network: `npm install --offline <tarball>` needs registry metadata for the
// package's dependencies, which a machine that installed from a lock file does not have (ENOTCACHED).
// The test does what npm's install does for the tarball itself — unpack it into
// node_modules/gmnas — and lets Node and TypeScript find its dependencies the usual way, up the tree in
// this repository's node_modules (nothing is written there).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const scratch = join(root, 'test-output/pack-test');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

let files: string[] = [];
let tarball = '';

test.before(() => {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(join(scratch, 'node_modules/gmnas'), { recursive: true });
});

test('npm pack: dist, declarations, bundles, embedded data and licence; no tests, no sources', () => {
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', scratch], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // prepack's own output precedes npm's JSON
  const json = JSON.parse(out.slice(out.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
  tarball = join(scratch, json[0].filename);
  assert.is(json[0].filename, `${pkg.name}-${pkg.version}.tgz`);
  files = json[0].files.map((f) => f.path).sort();
  for (const must of [
    'package.json', 'run.js', 'scripts/build.mjs', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/browser.js', 'dist/src/browser.d.ts',
    'dist/src/browser/start-search.d.ts', 'dist/src/cli/main.js', 'dist/gmnas.browser.js', 'dist/gmnas.worker.js',
    'dist/gmnas.kernel-worker.js',
    'data/fashion-mnist/LICENSE', 'data/fashion-mnist/README.md', 'data/fashion-mnist/SHA256SUMS',
    'data/fashion-mnist/train-images-idx3-ubyte.gz', 'data/fashion-mnist/train-labels-idx1-ubyte.gz',
    'data/fashion-mnist/t10k-images-idx3-ubyte.gz', 'data/fashion-mnist/t10k-labels-idx1-ubyte.gz',
  ]) assert.ok(files.includes(must), `${must} is missing from the package`);
  const unwanted = files.filter((f) => /(^|\/)test(s)?\//.test(f) || f.startsWith('dist/test') || f.startsWith('dist/bench') ||
    /\.test\.(js|ts)$/.test(f) || (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) || f.startsWith('src/') || f.startsWith('node_modules/') || f.startsWith('test-output/'));
  assert.equal(unwanted, [], `files that do not belong in the package: ${unwanted.join(', ')}`);
  // every compiled module has its declaration
  const js = files.filter((f) => f.startsWith('dist/src/') && f.endsWith('.js'));
  const missing = js.filter((f) => !files.includes(f.replace(/\.js$/, '.d.ts')));
  assert.equal(missing, [], `modules without declarations: ${missing.join(', ')}`);
});

test('the tarball installs into a scratch TypeScript project that type-checks and runs a tiny search', () => {
  execFileSync('tar', ['-xzf', tarball, '-C', join(scratch, 'node_modules/gmnas'), '--strip-components=1']);
  // the install hook of the packed package must be a no-op without sources (dist/ is prebuilt)
  const hook = spawnSync(process.execPath, ['scripts/build.mjs', '--if-sources'], { cwd: join(scratch, 'node_modules/gmnas'), encoding: 'utf8' });
  assert.is(hook.status, 0, `postinstall failed: ${hook.stderr}`);
  assert.not.ok(existsSync(join(scratch, 'node_modules/gmnas/src')), 'postinstall created sources');

  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'gmnas-pack-test', private: true, type: 'module' }, null, 2));
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out', rootDir: '.',
      lib: ['ES2022', 'DOM'], types: ['node', '@webgpu/types'], skipLibCheck: false,
    },
    files: ['main.ts', 'wrong.ts'],
  }, null, 2));
  writeFileSync(join(scratch, 'main.ts'), `// a consumer of the published package
import { CpuBackend, defaultSearchConfig, generateSynthetic, prepareSearchData, runSearch, MemoryStore, type SearchConfig, type SearchResult } from 'gmnas';
import { browserSearchConfig, BROWSER_PRESETS, type StartSearchOptions, type SearchRun, type LiveSearchState } from 'gmnas/browser';

const config: SearchConfig = {
  ...defaultSearchConfig({ preset: 'tiny' }), syntheticSize: 64, stepsPerEpoch: 1, splitEpochs: [1], totalEpochs: 2, gmRepeats: 1, valBatches: 1,
};
const data = prepareSearchData(config, generateSynthetic({ split: 'train', size: 64, seed: 0 }));
const result: SearchResult = await runSearch({ config, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu' });

// the browser API's types (startSearch itself needs a page)
const onState = (s: LiveSearchState): number => s.leaves.length;
const options: StartSearchOptions = { dataset: 'fashion-mnist', preset: 'browser-tiny', onState };
const stopAll = (runs: SearchRun[]): Promise<void[]> => Promise.all(runs.map((r) => r.stop()));
void stopAll;
const browserConfig = browserSearchConfig({ preset: options.preset, dataset: 'fashion-mnist' });
console.log(JSON.stringify({ genotype: result.final.genotype, leaves: result.leaves.length, presets: BROWSER_PRESETS, browserChannels: browserConfig.channels }));
`);
  // wrong on purpose: the declarations must reject these
  writeFileSync(join(scratch, 'wrong.ts'), `import { runSearch } from 'gmnas';
import { startSearch } from 'gmnas/browser';
export const a = runSearch({ config: 42 });
export const b = startSearch({ dataset: 'imagenet', preset: 'huge' });
`);
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const check = spawnSync(process.execPath, [tsc, '-p', scratch], { cwd: scratch, encoding: 'utf8' });
  const errors = (check.stdout + check.stderr).split('\n').filter((l) => /error TS\d+/.test(l));
  const inMain = errors.filter((l) => l.startsWith('main.ts'));
  assert.equal(inMain, [], `main.ts does not type-check against the package:\n${inMain.join('\n')}`);
  const other = errors.filter((l) => !l.startsWith('main.ts') && !l.startsWith('wrong.ts'));
  assert.equal(other, [], `the package's declarations have errors:\n${other.join('\n')}`);
  assert.ok(errors.some((l) => /^wrong\.ts\(3,/.test(l)), `runSearch({ config: 42 }) type-checked:\n${errors.join('\n')}`);
  assert.ok(errors.some((l) => /^wrong\.ts\(4,/.test(l)), `startSearch with a bad dataset and preset type-checked:\n${errors.join('\n')}`);

  const run = spawnSync(process.execPath, [join(scratch, 'out/main.js')], { cwd: scratch, encoding: 'utf8', timeout: 120_000 });
  assert.is(run.status, 0, `the scratch program failed:\n${run.stdout}\n${run.stderr}`);
  const line = run.stdout.trim().split('\n').pop()!;
  const out = JSON.parse(line) as { genotype: string; leaves: number; presets: string[]; browserChannels: number };
  assert.match(out.genotype, /^\|\w+~0\|\+\|\w+~0\|\w+~1\|\+\|\w+~0\|\w+~1\|\w+~2\|$/);
  assert.is(out.leaves, 2);
  assert.equal(out.presets, ['browser-quick', 'browser-tiny']);
  assert.is(out.browserChannels, 4);
  // the program ran the installed copy, not this repository's dist
  assert.ok(existsSync(join(scratch, 'node_modules/gmnas/dist/src/index.js')));
});

test.after(() => {
  if (tarball) rmSync(tarball, { force: true });
});

test.run();
