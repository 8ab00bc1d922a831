// `node run.js --space nb201` end to end as a user runs it: on the WebGPU backend (lavapipe in CI),
// with an NB201 table (--bench, --select bench), killed with SIGKILL and resumed, with a worker that
// keeps failing, and with bad flags.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allGenotypes, formatGenotype } from '../../src/spaces/nb201/genotype.js';
import { parseMask, maskAdmits } from '../../src/spaces/nb201/ops.js';
import { parseGenotype } from '../../src/spaces/nb201/genotype.js';
import { networkParamCount } from '../../src/spaces/nb201/params.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-cli-search-'));

function run(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [RUN_JS, ...args], { env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const TINY = ['--space', 'nb201', '--preset', 'tiny', '--dataset', 'synthetic', '--synthetic-size', '128', '--quiet'];

test('GM + DARTS end to end on the WebGPU backend: result.json has the documented schema', () => {
  const out = join(tmp, 'webgpu');
  const r = run([...TINY, '--device', 'webgpu', '--seed', '1', '--out', out]);
  assert.is(r.code, 0, r.err + r.out);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.is(res.space, 'nb201');
  assert.is(res.method, 'gm');
  assert.is(res.base, 'darts');
  assert.is(res.seed, 1);
  assert.is(res.config.seed, 1);
  assert.match(res.device, /^webgpu/);
  assert.is(res.tree.nodes.length, 7);
  for (const n of res.tree.nodes) { assert.ok('parent' in n); assert.ok(parseMask(n.mask)); }
  assert.is(res.splits.length, 3);
  for (const s of res.splits) {
    assert.type(s.node, 'number');
    assert.type(s.edge, 'number');
    assert.is(s.distance.length, 5);
    assert.is(s.groups.length, 2);
    assert.type(s.cutScore, 'number');
  }
  assert.is(res.leaves.length, 4);
  assert.is(res.config.pathTuneSteps, 2); // tiny preset: each derived path trained 2 steps before scoring
  for (const l of res.leaves) {
    assert.ok(maskAdmits(parseMask(l.mask), parseGenotype(l.genotype)));
    assert.type(l.valUntuned.accuracy, 'number');
    assert.type(l.val.accuracy, 'number');
    assert.type(l.val.loss, 'number');
  }
  assert.is(res.final.selectedBy, 'val-acc');
  assert.is(res.final.oracle, false);
  assert.ok(res.leaves.some((l: { genotype: string }) => l.genotype === res.final.genotype));
  for (const k of ['warmup.level0', 'split.level0', 'warmup.level1', 'split.level1', 'leaves']) assert.type(res.timings[k], 'number');
  assert.ok(existsSync(join(out, 'checkpoints', 'node-0.safetensors')));
  // the final genotype retrained stand-alone (tiny preset: 1 epoch) and scored on the test split
  const rt = res.final.retrain;
  assert.ok(rt, 'final.retrain is missing');
  assert.is(rt.genotype, res.final.genotype);
  assert.ok(rt.testAccuracy >= 0 && rt.testAccuracy <= 100, `accuracy ${rt.testAccuracy}`);
  assert.ok(Number.isFinite(rt.testLoss) && rt.testLoss > 0, `loss ${rt.testLoss}`);
  assert.type(rt.seconds, 'number');
  assert.is(rt.protocol.hyper.epochs, res.config.retrainEpochs);
  assert.is(res.config.retrainEpochs, 1);
  assert.is(rt.protocol.testImages, 1000); // the synthetic test split
  assert.equal(rt.protocol.imageShape, res.dataset.imageShape);
  // the parameter count of the trained network = the spec's count for the genotype (independent formula)
  assert.is(rt.parameters, networkParamCount(parseGenotype(res.final.genotype), { C: res.config.channels, N: res.config.cells, inputChannels: 3, numClasses: 10 }));
  assert.type(res.timings.retrain, 'number');
  assert.match(r.out, /retrained: test accuracy \d+\.\d\d %/);
  // the printed summary: tree, matrices, final genotype
  assert.match(r.out, /partition tree:/);
  assert.match(r.out, /split of node 0: edge \d/);
  assert.ok(r.out.includes(res.final.genotype));
});

test('--bench reports benchmark accuracy; --select bench is labelled an oracle', () => {
  // a complete table of made-up accuracies (the shared NB201 table is not part of the repository)
  const csv = join(tmp, 'table.csv');
  const rows = allGenotypes().map((g, i) => `${i},${formatGenotype(g)},${(50 + (i * 7919) % 4400 / 100).toFixed(2)}`);
  writeFileSync(csv, `index,arch_str,cifar10_test\n${rows.join('\n')}\n`);
  const out = join(tmp, 'bench');
  const r = run([...TINY, '--device', 'cpu', '--bench', csv, '--select', 'bench', '--no-retrain', '--out', out]);
  assert.is(r.code, 0, r.err + r.out);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.is(res.final.selectedBy, 'bench');
  assert.is(res.final.oracle, true);
  const best = Math.max(...res.leaves.map((l: { bench: { cifar10_test: number } }) => l.bench.cifar10_test));
  assert.is(res.final.bench.cifar10_test, best);
  assert.match(r.out, /ORACLE/);
  assert.is(res.final.retrain, undefined); // --no-retrain
  assert.is(res.config.retrainEpochs, 0);
  assert.match(r.out, /not retrained \(--no-retrain\)/);
});

test('a run killed with SIGKILL resumes (--resume DIR) to the same splits and final genotype', async () => {
  const full = join(tmp, 'full');
  const a = run([...TINY, '--device', 'cpu', '--workers', '1', '--out', full]);
  assert.is(a.code, 0, a.err);
  const killed = join(tmp, 'killed');
  const child = spawn(process.execPath, [RUN_JS, ...TINY, '--device', 'cpu', '--workers', '1', '--out', killed], { env, stdio: 'ignore' });
  // kill once the first level-1 node has been created (mid-run: splits left, leaves untrained)
  await new Promise<void>((resolve, reject) => {
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (existsSync(join(killed, 'checkpoints', 'node-3.safetensors'))) { clearInterval(poll); child.kill('SIGKILL'); resolve(); }
      else if (Date.now() - t0 > 120_000) { clearInterval(poll); child.kill('SIGKILL'); reject(new Error('the run never reached node 3')); }
    }, 20);
  });
  await new Promise((r) => child.on('exit', r));
  assert.not.ok(existsSync(join(killed, 'result.json')), 'the killed run finished before it was killed');
  const b = run(['--resume', killed, '--device', 'cpu', '--workers', '1', '--quiet']);
  assert.is(b.code, 0, b.err);
  const ra = JSON.parse(readFileSync(join(full, 'result.json'), 'utf8'));
  const rb = JSON.parse(readFileSync(join(killed, 'result.json'), 'utf8'));
  assert.equal(rb.splits, ra.splits);
  assert.is(rb.final.genotype, ra.final.genotype);
  assert.equal(rb.leaves.map((l: { genotype: string }) => l.genotype), ra.leaves.map((l: { genotype: string }) => l.genotype));
});

test('a leaf whose worker fails twice is reported by id; the other leaves finish', () => {
  const out = join(tmp, 'fail');
  const r = run([...TINY, '--device', 'cpu', '--workers', '2', '--inject-leaf-failure', '4', '--out', out]);
  assert.is(r.code, 1);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.equal(res.failedLeaves.map((f: { node: number }) => f.node), [4]);
  assert.is(res.leaves.length, 3);
  assert.match(r.out, /FAILED leaves: node 4/);
});

test('bad flags and combinations are rejected with the flag named', () => {
  const cases: [string[], RegExp][] = [
    [['--method', 'best'], /--method best: expected one of gm, fewshot, random, oneshot/],
    [['--space', 'resnet'], /--space resnet: expected one of nb201, darts, darts-none, mobilenet/],
    [['--base', 'enas'], /--base enas/],
    [['--groups', '2+2'], /--groups: sizes 2\+2 add up to 4/],
    [['--select', 'bench'], /--select: 'bench' .* needs --bench FILE/],
    [['--split-epochs', '2,1'], /--split-epochs/],
    [['--method', 'oneshot', '--split-epochs', '1'], /--split-epochs: a one-shot search does not split/],
    [['--gm-repeats', '0'], /--gm-repeats 0/],
    [['--no-retrain', '--retrain-epochs', '2'], /--no-retrain and --retrain-epochs contradict/],
    [['--retrain-epochs', '0'], /--retrain-epochs 0/],
    [['--dataset', 'fashion-mnist-embedded', '--data-dir', '/tmp'], /--data-dir: fashion-mnist-embedded always reads/],
    [['--device', 'tpu'], /--device tpu/],
    [['--threads', '0'], /--threads 0: expected an integer in \[1, 256\]/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['--resume', join(tmp, 'nope')], /--resume .*no state.json/],
    [['--resume', join(tmp, 'full'), '--seed', '3'], /--resume takes the configuration .* drop --seed/],
    [['--out', join(tmp, 'full')], /already holds a run; continue it with --resume/],
    [['--dataset', 'cifar10', '--data-dir', join(tmp, 'missing')], /cifar10|data_batch|missing/],
  ];
  for (const [args, re] of cases) {
    const r = run(['--device', 'cpu', '--quiet', ...(args.includes('--resume') ? [] : ['--preset', 'tiny']), ...args]);
    assert.ok(r.code !== 0, `${args.join(' ')} was accepted`);
    assert.match(r.err, re, `${args.join(' ')}: ${r.err}`);
    assert.not.match(r.err, /^\s+at /m, `${args.join(' ')} printed a stack trace`);
  }
});

test('--device wasm --threads 2: the search runs on the wasm backend and result.json names it', () => {
  const out = join(tmp, 'wasm');
  const r = run([...TINY, '--device', 'wasm', '--threads', '2', '--seed', '1', '--out', out]);
  assert.is(r.code, 0, r.err + r.out);
  const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
  assert.match(res.device, /^wasm \(Wasm (relaxed )?SIMD128, 2 threads, shared memory\)$/);
  assert.is(res.leaves.length, 4);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));
test.run();
