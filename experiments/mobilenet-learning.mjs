// Why the quick MobileNet supernet stays at chance (issue #22): trains on the embedded Fashion-MNIST,
// through the SearchSpace interface, one of
//   standalone  one fixed path (the golden's mixed genotype) inside the supernet
//   uniform     one path per step drawn uniformly per block (RSPS / the proxyless weight step at α = 0)
// and prints the training loss every 10 steps and the accuracy on 1 000 test images (train-mode BN on
// the last path for the supernet, fixed path eval-mode BN for standalone).
//
//   node experiments/mobilenet-learning.mjs KEY=VALUE…
//     mode=standalone|uniform  steps=100 lr=0.025 momentum=0.9 res=16 width=0.25 batch=64 ls=0.1
//     init=space|he (he: apply ProxylessNAS's he_fout again; the space's supernets start with it since
//     664d23c — the docs' "engine" rows were measured before, with the engine's uniform ±1/√fan_in)
//     zero=0|1 (γ = 0 on the last BN of every residual branch)  nested=1 (init.ts nestedCandidateInit)
//     fix=i,j (blocks kept on the mixed genotype's op)  fixnos=1 (the six blocks without a shortcut)
//     head=F (feature mix + classifier at F × lr)
//     warm=0 (linear lr warm-up steps) threads=1 backend=wasm seed=0
//     full=nos|all (ProxylessNAS's 'full' mode on those blocks: every candidate runs, output the uniform
//     mean, as at α = 0; the accuracy is then of that mixed network, and `single` of one drawn path)
//     hold=K (the no-shortcut blocks' ops redrawn every K steps instead of every step)
//     tune=K (then train that one drawn path alone K steps at constant lr, as the search's path tuning,
//     and print its accuracy again)
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const E = await import(join(ROOT, 'dist/src/engine/index.js'));
const { createBackend } = await import(join(ROOT, 'dist/src/engine/select-backend.js'));
const { getSpace } = await import(join(ROOT, 'dist/src/spaces/registry.js'));
const { loadDataset } = await import(join(ROOT, 'dist/src/data/load.js'));
const { fitToResolution } = await import(join(ROOT, 'dist/src/data/dataset.js'));
const { BatchSampler } = await import(join(ROOT, 'dist/src/data/sampler.js'));
const { Rng } = await import(join(ROOT, 'dist/src/data/rng.js'));

const a = Object.fromEntries(process.argv.slice(2).map((s) => s.split('=')));
const o = {
  mode: a.mode ?? 'uniform', steps: +(a.steps ?? 100), lr: +(a.lr ?? 0.025), momentum: +(a.momentum ?? 0.9), res: +(a.res ?? 16),
  width: +(a.width ?? 0.25), batch: +(a.batch ?? 64), ls: +(a.ls ?? 0.1), init: a.init ?? 'space', zero: a.zero === '1',
  warm: +(a.warm ?? 0), threads: +(a.threads ?? 1), backend: a.backend ?? 'wasm', seed: +(a.seed ?? 0), wd: +(a.wd ?? 4e-5),
  head: +(a.head ?? 1), fixnos: a.fixnos === '1', fix: a.fix ? a.fix.split(',').map(Number) : [], nested: a.nested === '1',
  full: a.full ?? '', hold: +(a.hold ?? 1), tune: +(a.tune ?? 0),
};
console.log(JSON.stringify(o));
const be = await createBackend(o.backend, { threads: o.threads });
const space = getSpace('mobilenet');
const train = fitToResolution(loadDataset('fashion-mnist-embedded', { split: 'train' }), o.res);
const test = fitToResolution(loadDataset('fashion-mnist-embedded', { split: 'test', limit: 1000 }), o.res);
const shape = [train.channels, train.height, train.width];
const sn = space.buildSupernet(be, new E.Rng(o.seed), { C: 32 * o.width, N: 1, inputChannels: 1, numClasses: 10, trackCellStats: true });
const { heFanOutInit, zeroLastBnGamma, nestedCandidateInit } = await import(join(ROOT, 'dist/src/spaces/mobilenet/init.js')).catch(() => ({}));
if (o.init === 'he') heFanOutInit(sn, new E.Rng(o.seed + 1)); // through the adopted children;
if (o.nested) nestedCandidateInit(sn, new E.Rng(o.seed + 2));
if (o.zero) zeroLastBnGamma(sn);
const mask = space.fullMask();
const fixed = space.parseGenotype('3x3_MBConv3,5x5_MBConv6,zero,7x7_MBConv3,7x7_MBConv6,3x3_MBConv6,5x5_MBConv3,zero,5x5_MBConv6,zero,3x3_MBConv3,7x7_MBConv3,3x3_MBConv6,5x5_MBConv3,zero,7x7_MBConv6,5x5_MBConv6,3x3_MBConv3,zero,7x7_MBConv3,7x7_MBConv6');
const rng = new Rng(o.seed + 7);
// head=F: the feature mix and the classifier at F times the learning rate (their second optimizer)
const named = sn.namedParameters();
const isHead = (n) => n.startsWith('classifier.') || n.startsWith('feature_mix_layer.');
const body = named.filter(([n]) => o.head === 1 || !isHead(n)).map(([, t]) => t);
const head = o.head === 1 ? [] : named.filter(([n]) => isHead(n)).map(([, t]) => t);
const opt = new E.SGD(body, { lr: o.lr, momentum: o.momentum, nesterov: o.momentum > 0, weightDecay: o.wd });
const opt2 = head.length ? new E.SGD(head, { lr: o.lr * o.head, momentum: o.momentum, nesterov: o.momentum > 0, weightDecay: o.wd }) : null;
const sampler = new BatchSampler(train, { batchSize: o.batch, seed: o.seed, sampling: 'independent', augment: true });
// fixnos=1: blocks without an identity shortcut keep the fixed genotype's op (diagnostic)
const noShortcut = space.decisions.map((d) => !d.ops.includes('zero'));
const draw = () => { const g = space.sampleSinglePath(rng, mask); return g.map((j, d) => ((o.fixnos && noShortcut[d]) || o.fix.includes(d) ? fixed[d] : j)); };
let held = null;
const drawHeld = (s) => {
  if (o.hold <= 1) return draw();
  if (s % o.hold === 0 || !held) held = draw();
  const g = draw();
  return g.map((j, d) => (noShortcut[d] ? held[d] : j));
};
const { rows, cols } = space;
const fullRow = (d) => o.full === 'all' || (o.full === 'nos' && noShortcut[d]);
const mixed = (g) => {
  if (!o.full) return space.singlePathSample(g);
  return { ops: g.map((j, d) => (fullRow(d) ? space.enabledOps(mask, d) : [j])), weights: fullWOf(g) };
};
const wCache = new Map();
const fullWOf = (g) => {
  const key = g.join(',');
  if (wCache.size > 64) { for (const t of wCache.values()) t.dispose(); wCache.clear(); }
  if (!wCache.has(key)) {
    const v = new Float32Array(rows * cols);
    for (let d = 0; d < rows; d++) {
      const en = space.enabledOps(mask, d);
      if (fullRow(d)) for (const j of en) v[d * cols + j] = 1 / en.length; else v[d * cols + g[d]] = 1;
    }
    wCache.set(key, E.Tensor.fromArray(be, v, [rows, cols]));
  }
  return wCache.get(key);
};
let stepNo = 0;
const path = () => (o.mode === 'standalone' ? space.singlePathSample(fixed) : mixed(drawHeld(stepNo)));
const t0 = process.cpuUsage();
let sum = 0, cnt = 0;
sn.train();
for (let s = 0; s < o.steps; s++) {
  const f = (o.warm > 0 ? Math.min(1, (s + 1) / o.warm) : 1) * 0.5 * (1 + Math.cos(Math.PI * s / o.steps));
  opt.lr = f * o.lr; if (opt2) opt2.lr = f * o.lr * o.head;
  const b = sampler.next();
  stepNo = s;
  const l = E.tidy(() => {
    opt.zeroGrad(); opt2?.zeroGrad();
    const x = E.Tensor.fromArray(be, b.x, [b.n, ...shape]), y = E.Tensor.fromArray(be, b.y, [b.n]);
    const loss = E.crossEntropy(sn.forward(x, path()), y, o.ls);
    E.backward(loss);
    opt.step(); opt2?.step();
    return E.keep(loss);
  });
  sum += (await l.data())[0]; cnt++; l.dispose();
  if ((s + 1) % 10 === 0) { process.stdout.write(`${s + 1}:${(sum / cnt).toFixed(3)} `); sum = cnt = 0; }
}
// accuracy: the fixed path (eval-mode BN for standalone, train-mode BN batches of 100 for uniform)
if (o.mode !== 'standalone') sn.train(); else sn.eval();
const evalAcc = async (evalPath) => {
let correct = 0;
for (let i = 0; i < test.size; i += 100) {
  const n = Math.min(100, test.size - i);
  const es = new BatchSampler(test, { batchSize: n, shuffle: false, indices: Array.from({ length: n }, (_, k) => i + k) });
  const b = es.next();
  const lg = E.tidy(() => E.noGrad(() => E.keep(sn.forward(E.Tensor.fromArray(be, b.x, [n, ...shape]), evalPath))));
  const v = await lg.data(); lg.dispose();
  for (let k = 0; k < n; k++) { let best = 0; for (let c = 1; c < 10; c++) if (v[k * 10 + c] > v[k * 10 + best]) best = c; if (best === b.y[k]) correct++; }
}
return (100 * correct / test.size).toFixed(1);
};
const g0 = draw();
const accMain = await evalAcc(o.mode === 'standalone' ? space.singlePathSample(fixed) : mixed(g0));
const accSingle = o.full ? await evalAcc(space.singlePathSample(g0)) : null;
let accTuned = null;
if (o.tune > 0) {
  sn.train();
  opt.lr = o.lr; if (opt2) opt2.lr = o.lr * o.head;
  for (let s = 0; s < o.tune; s++) {
    const b = sampler.next();
    E.tidy(() => {
      opt.zeroGrad(); opt2?.zeroGrad();
      const x = E.Tensor.fromArray(be, b.x, [b.n, ...shape]), y = E.Tensor.fromArray(be, b.y, [b.n]);
      E.backward(E.crossEntropy(sn.forward(x, space.singlePathSample(g0)), y, o.ls));
      opt.step(); opt2?.step();
    });
  }
  accTuned = await evalAcc(space.singlePathSample(g0));
}
const cpu = process.cpuUsage(t0);
console.log(`\nacc ${accMain} %${accSingle ? ` single ${accSingle} %` : ''}${accTuned ? ` tuned ${accTuned} %` : ''} cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
process.exit(0);
