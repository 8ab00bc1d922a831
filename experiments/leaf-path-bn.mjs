// Why a leaf's derived single path scores far below its supernet (docs/mobilenet.md, session 5):
// load saved leaf checkpoints of a finished search and score the search's own derived genotype with
// three BN treatments — running statistics (what the search does for proxyless/rsps), batch statistics
// (train mode), and running statistics re-estimated on K training batches of that single path
// (src/nas/rank.ts recalibrateBatchNorm) — before and after the search's path tuning (tune=T steps,
// lr). One JSON line per leaf. CPU seconds per phase from process.cpuUsage.
//
//   node experiments/leaf-path-bn.mjs RUN [nodes=3,4] [tune=20] [recal=8] [lr=0.025] [device=wasm]
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(ROOT, 'dist/src', p));
const { loadRun, recalibrateBatchNorm } = await imp('nas/rank.js');
const { createNodeMethod, validationData } = await imp('nas/phases.js');
const { loadSearchData } = await imp('nas/search-data.js');
const { loadMethodCheckpoint } = await imp('search/checkpoints.js');
const { createBackend } = await imp('engine/select-backend.js');
const { BatchSampler } = await imp('data/sampler.js');
const { uploadBatch } = await imp('search/batch.js');
const { keep } = await imp('engine/index.js');

const [dir, ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.map((a) => a.split('=')));
const tune = Number(opt.tune ?? 20), recal = Number(opt.recal ?? 8), device = opt.device ?? 'wasm';
const backend = await createBackend(device, { log: (m) => process.stderr.write(`note: ${m}\n`) });
const run = loadRun(dir);
const c = run.config;
const lr = Number(opt.lr ?? c.lr ?? 0.025);
const data = loadSearchData(c);
const val = validationData(c, data);
const nodes = opt.nodes ? opt.nodes.split(',').map(Number) : run.leaves.map((l) => l.node);
const recalSampler = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 12345, sampling: 'independent', augment: false, indices: data.split.weights });
const recalBatches = Array.from({ length: recal }, () => {
  const d = uploadBatch(backend, recalSampler.next(), data.imageShape); keep(d.x); keep(d.y); return d;
});
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const pct = (m) => Math.round(m.accuracy * 100) / 100;
for (const leaf of run.leaves.filter((l) => nodes.includes(l.node))) {
  const saved = run.result.leaves.find((l) => l.node === leaf.node);
  const method = createNodeMethod(c, backend, data, leaf.node, leaf.mask);
  try {
    loadMethodCheckpoint(leaf.checkpoint, method);
    const genotype = method.space.parseGenotype(saved.genotype);
    const score = async () => {
      const out = {};
      out.eval = await method.evaluate(val, { arch: genotype, bn: 'eval' });
      out.train = await method.evaluate(val, { arch: genotype, bn: 'train' });
      let t = cpu();
      recalibrateBatchNorm(method, genotype, recalBatches);
      out.recalCpu = cpu() - t;
      out.recal = await method.evaluate(val, { arch: genotype, bn: 'eval' });
      return { eval: pct(out.eval), evalLoss: +out.eval.loss.toFixed(3), train: pct(out.train), recal: pct(out.recal), recalLoss: +out.recal.loss.toFixed(3), recalCpu: +out.recalCpu.toFixed(1) };
    };
    const supernet = await method.evaluate(val, { arch: 'method', bn: 'eval' });
    const before = await score();
    const tuneSampler = new BatchSampler(data.train, { batchSize: c.batchSize, seed: 777 + leaf.node, sampling: 'independent', augment: true, indices: data.split.weights });
    let t = cpu();
    await method.tunePath(genotype, tuneSampler, { steps: tune, lr });
    const tuneCpu = cpu() - t;
    const after = await score();
    console.log(JSON.stringify({ node: leaf.node, searched: { val: saved.val.accuracy, untuned: saved.valUntuned?.accuracy, supernet: saved.supernetVal?.accuracy },
      supernet: pct(supernet), before, tune, lr, tuneCpu: +tuneCpu.toFixed(1), after }));
  } finally {
    method.dispose();
  }
}
