// `node run.js train` and `node run.js query` as a user runs them: a real child process, the quick
// preset on a few synthetic images on the CPU backend; result.json fields, a model.safetensors that
// loads and reproduces the reported test accuracy; usage errors that name their flag (exit 2); a
// benchmark row from a small table in the nb201.csv format.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { Rng as EngineRng } from '../../src/engine/index.js';
import { loadNetworkCheckpoint } from '../../src/search/checkpoints.js';
import { evaluateNetwork } from '../../src/search/standalone.js';
import { loadDataset } from '../../src/data/load.js';
import { evalBatches } from '../../src/data/sampler.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { defaultSearchConfig } from '../../src/nas/config.js';

// dist/test/cli/train.test.js → repository root
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const dir = mkdtempSync(join(tmpdir(), 'gmnas-cli-train-'));
const ARCH = '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|';

/** Three rows in the format of ../shared/data/nb201/nb201.csv (values from that table). */
const CSV = `index,arch_str,cifar10_valid_xvalid,cifar10_valid_oritest,cifar10_test,cifar100_test,imagenet16_120_test,params_mb_cifar10
0,|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|,81.982667,81.52,85.863333,52.913333,26.633333,0.129306
1,|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|,90.769333,90.513333,93.66,70.293333,44.033333,0.802426
1835,|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|,39.77,39.77,54.3,15.61,16.32,0.073306
`;
const csvPath = join(dir, 'bench.csv');
writeFileSync(csvPath, CSV);

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(root, 'run.js'), ...args], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', GMNAS_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** stderr's lines without the debug hint main.ts adds to runtime errors. */
function errorLines(stderr: string): string[] {
  return stderr.trim().split('\n').filter((l) => l && !l.startsWith('(set GMNAS_DEBUG'));
}

test('train: quick preset on synthetic data writes result.json and a loadable model.safetensors', () => {
  const out = join(dir, 'run1');
  const t0 = Date.now();
  const r = run(['train', '--space', 'nb201', '--arch', ARCH, '--preset', 'quick', '--dataset', 'synthetic', '--device', 'cpu', '--train-limit', '20',
    '--test-limit', '20', '--batch-size', '10', '--epochs', '2', '--seed', '3', '--out', out, '--bench', csvPath]);
  console.log(`  train run: ${Date.now() - t0} ms`);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /epoch 1\/2 .*train loss .*test loss/);
  assert.match(r.stderr, /epoch 2\/2 /);
  assert.match(r.stdout, /test accuracy \d+\.\d\d%/);
  assert.match(r.stdout, /benchmark row .*cifar10_test 93\.66/);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.is(res.genotype, ARCH);
  assert.is(res.dataset, 'synthetic');
  assert.is(res.epochs, 2);
  assert.is(res.seed, 3);
  assert.ok(res.test.accuracy >= 0 && res.test.accuracy <= 100, `accuracy ${res.test.accuracy}`);
  assert.ok(Number.isFinite(res.test.loss) && res.test.loss > 0, `loss ${res.test.loss}`);
  assert.is(res.test.images, 20);
  assert.match(res.device, /^cpu/);
  assert.is(res.config.preset, 'quick');
  assert.equal([res.config.channels, res.config.cells, res.config.trainImages, res.config.testImages], [4, 1, 20, 20]);
  assert.equal(res.config.imageShape, [3, 32, 32]);
  assert.is(res.config.hyper.batchSize, 10);
  assert.is(res.config.hyper.nesterov, true);
  assert.is(res.config.stepsPerEpoch, 2);
  assert.is(res.history.length, 2);
  assert.equal(res.history.map((h: { epoch: number }) => h.epoch), [0, 1]);
  assert.ok(res.history.every((h: { train: { loss: number }; test: { loss: number } }) => Number.isFinite(h.train.loss) && Number.isFinite(h.test.loss)));
  assert.equal(res.history[1].test, { loss: res.test.loss, accuracy: res.test.accuracy });
  assert.is(res.bench.row.index, 1);
  assert.is(res.bench.row.cifar10_test, 93.66);

  // the checkpoint is the trained network: it loads and scores what result.json says
  const path = join(out, 'model.safetensors');
  assert.ok(existsSync(path));
  const be = new CpuBackend();
  const { network, metadata } = loadNetworkCheckpoint(path, be, new EngineRng(0));
  assert.is(metadata.genotype, ARCH);
  assert.equal([metadata.C, metadata.N, metadata.dataset, metadata.seed], ['4', '1', 'synthetic', '3']);
  assert.equal([...network.config.genotype], parseGenotype(ARCH));
  return evaluateNetwork(network, () => evalBatches(loadDataset('synthetic', { split: 'test', limit: 20 }), 64), [3, 32, 32]).then((m) => {
    assert.is(m.accuracy, res.test.accuracy);
    assert.ok(Math.abs(m.loss - res.test.loss) < 1e-6, `${m.loss} vs ${res.test.loss}`);
    network.dispose();
  });
});

test('train: usage errors name their flag in one line and exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['--arch', '|nor_conv_3x3~0|+|bogus~0|skip_connect~1|'], /--arch: invalid NB201 genotype .*expected 3 nodes/],
    [['--arch', '|nor_conv_3x3~0|+|conv~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|'], /--arch: .*unknown op 'conv'/],
    [['--arch', ARCH, '--bogus', '1'], /--bogus/],
    [['--arch', ARCH, '--preset', 'slow'], /--preset slow: expected one of nb201, quick/],
    [['--arch', ARCH, '--dataset', 'cifar10'], /--data-dir: required for --dataset cifar10/],
    [['--arch', ARCH, '--dataset', 'cifar10', '--data-dir', join(dir, 'nowhere')], /--data-dir .*nowhere: no such directory/],
    [['--arch', ARCH, '--epochs', '0'], /--epochs 0: expected an integer >= 1/],
    [['--space', 'resnet', '--arch', ARCH], /--space resnet: expected one of nb201, darts, darts-none, mobilenet/],
    [[], /--arch is required/],
  ];
  for (const [args, re] of cases) {
    const r = run(['train', '--device', 'cpu', ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], re);
    if (args.length) assert.is(errorLines(r.stderr).length, 1, r.stderr);
  }
  // a data folder without the files: the reader names the file and the flag (exit 1)
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  const r = run(['train', '--device', 'cpu', '--arch', ARCH, '--dataset', 'cifar10', '--data-dir', empty]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /not found .*set --data-dir/);
  assert.is(errorLines(r.stderr).length, 1, r.stderr);
  const b = run(['train', '--device', 'cpu', '--arch', ARCH, '--bench', join(dir, 'missing.csv')]);
  assert.is(b.code, 1);
  assert.match(b.stderr, /--bench: cannot read benchmark table .*missing\.csv/);
});

test('train: an existing non-empty --out is refused before training unless --overwrite; the default folder names space, dataset and time', () => {
  const quick = ['train', '--arch', ARCH, '--preset', 'quick', '--device', 'cpu', '--train-limit', '20', '--test-limit', '10', '--batch-size', '10', '--epochs', '1'];
  const out = join(dir, 'taken');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'notes.txt'), 'earlier work');
  const r = run([...quick, '--out', out]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out .*taken: the folder already holds files \(notes\.txt\); choose another folder, or give --overwrite/);
  assert.not.match(r.stderr, /epoch 1\/1/); // refused before the first epoch
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'earlier work');
  const o = run([...quick, '--out', out, '--overwrite']);
  assert.is(o.code, 0, o.stderr);
  assert.ok(existsSync(join(out, 'result.json')));
  const file = join(dir, 'a-file');
  writeFileSync(file, '');
  assert.match(run([...quick, '--out', file]).stderr, /--out .*a-file: exists and is not a folder/);
  assert.match(run([...quick, '--out', '']).stderr, /--out: expected a folder name/);
  // default: runs/train-nb201-<dataset>-<UTC timestamp>, sealed result.json
  const d = run(quick);
  assert.is(d.code, 0, d.stderr);
  const m = /wrote (\S*runs\/train-nb201-[a-z0-9-]+?-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d(?:-\d+)?)\/result\.json/.exec(d.stdout);
  assert.ok(m, d.stdout);
  assert.match(readFileSync(join(m![1], 'result.json'), 'utf8'), /"sha256": "[0-9a-f]{64}"\n}\n$/);
});

test('train --like: an existing non-empty --out is refused before the data loads unless --overwrite', () => {
  // a search folder needs only its configuration for --like: a tiny synthetic search's state.json
  const like = join(dir, 'like-run');
  mkdirSync(like, { recursive: true });
  writeFileSync(join(like, 'state.json'), JSON.stringify({ config: { ...defaultSearchConfig({ preset: 'tiny' }), dataset: 'synthetic' } }));
  const out = join(dir, 'like-taken');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'notes.txt'), 'earlier work');
  const args = ['train', '--like', like, '--arch', ARCH, '--device', 'cpu', '--out', out];
  const r = run(args);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /--out .*like-taken: the folder already holds files \(notes\.txt\); choose another folder, or give --overwrite/);
  assert.not.match(r.stderr, /retrain .* like /); // refused before the backend and the training start
  assert.not.ok(existsSync(join(out, 'result.json')));
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'earlier work');
  const o = run([...args, '--overwrite']);
  assert.is(o.code, 0, o.stderr);
  assert.match(o.stderr, /epoch 1\/1 /);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.equal([res.command, res.genotype, res.like], ['train', ARCH, like]);
  assert.ok(Number.isFinite(res.test.accuracy));
  assert.is(readFileSync(join(out, 'notes.txt'), 'utf8'), 'earlier work'); // overwrite replaces its own files only
  // a second --overwrite run replaces the result it wrote (same protocol and seed on the CPU backend: same numbers)
  const again = run([...args, '--overwrite']);
  assert.is(again.code, 0, again.stderr);
  assert.is(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')).test.accuracy, res.test.accuracy);
});

test('query: prints the benchmark row of one genotype', () => {
  const r = run(['query', '--bench', csvPath, '--arch', ARCH]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^index\s+1$/m);
  assert.match(r.stdout, /^cifar10_test\s+93\.66$/m);
  assert.match(r.stdout, /^arch_str\s+\|nor_conv_3x3~0\|/m);
  const j = run(['query', '--bench', csvPath, '--arch', '|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|', '--json']);
  assert.is(j.code, 0, j.stderr);
  const row = JSON.parse(j.stdout);
  assert.equal([row.index, row.cifar10_test, row.cifar100_test, row.imagenet16_120_test], [1835, 54.3, 15.61, 16.32]);
  const missing = run(['query', '--bench', csvPath, '--arch', '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|']);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /has no row for \|none~0\|/);
  const bad = run(['query', '--bench', csvPath, '--arch', 'nor_conv_3x3']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /^gmnas: --arch: invalid NB201 genotype/);
  const noBench = run(['query', '--arch', ARCH]);
  assert.is(noBench.code, 2);
  assert.match(noBench.stderr, /--bench is required/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
