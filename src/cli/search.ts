// `node run.js [search] --space nb201 …`: GM-NAS (default), few-shot, random-split or one-shot search
// on NB201, end to end: data, warmup, splits, leaves (in a worker pool), selection, result.json,
// report.html, and --resume of a killed run.
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { parseFlags, UsageError, intFlag, numFlag, choiceFlag, type FlagSpec } from './args.js';
import { COMMON_FLAGS, COMMON_FLAGS_HELP, readCommonFlags } from './common-flags.js';
import { createProgressView } from './progress.js';
import { createBackend, describeBackend } from '../engine/select-backend.js';
import { BASE_METHOD_NAMES, type BaseMethodName } from '../search/presets.js';
import {
  SEARCH_METHODS, SELECTORS, DERIVATIONS, PRESETS, defaultSearchConfig, validateSearchConfig,
  type SearchConfig, type SearchMethod, type PresetName,
} from '../nas/config.js';
import { GM_METRICS } from '../nas/gm-score.js';
import { runSearch, expectedLeafCount, checkBenchColumn, type RunState, type SearchResult } from '../nas/search.js';
import { FileStore } from '../nas/file-store.js';
import { loadSearchData, loadSearchTestSet } from '../nas/search-data.js';
import { poolLeafRunner } from '../pool/leaf-pool.js';
import { queuedSearchSetup, checkResumeStore } from '../pool/queue-search.js';
import { autotuneBackendOptions } from '../io/autotune-cache.js';
import { renderReport } from '../report/html.js';
import { loadBenchTable } from '../io/bench-table-file.js';
import { PartitionTree } from '../nas/tree.js';
import { getSpace, SPACE_NAMES, DEFAULT_SPACE_NAME, describeSize } from '../spaces/registry.js';

const FLAGS: FlagSpec = {
  ...COMMON_FLAGS,
  space: { type: 'string' },
  method: { type: 'string' },
  base: { type: 'string' },
  preset: { type: 'string' },
  'split-epochs': { type: 'string' },
  'steps-per-epoch': { type: 'string' },
  lr: { type: 'string' },
  branches: { type: 'string' },
  groups: { type: 'string' },
  'gm-repeats': { type: 'string' },
  'gm-metric': { type: 'string' },
  'edge-criterion': { type: 'string' },
  'fewshot-edge': { type: 'string' },
  'no-restart': { type: 'boolean' },
  'fix-schedule': { type: 'boolean' },
  select: { type: 'string' },
  bench: { type: 'string' },
  'bench-column': { type: 'string' },
  'val-batches': { type: 'string' },
  'rsps-candidates': { type: 'string' },
  'halving-epochs': { type: 'string' },
  downsample: { type: 'string' },
  resolution: { type: 'string' },
  'width-mult': { type: 'string' },
  'max-flops': { type: 'string' },
  'flops-target': { type: 'string' },
  'latency-target': { type: 'string' },
  'hold-steps': { type: 'string' },
  'proxyless-full': { type: 'boolean' },
  'no-proxyless-full': { type: 'boolean' },
  'flops-loss': { type: 'string' },
  'max-params': { type: 'string' },
  'synthetic-size': { type: 'string' },
  'retrain-epochs': { type: 'string' },
  'no-retrain': { type: 'boolean' },
  'path-tune-steps': { type: 'string' },
  'path-bn-recalibrate': { type: 'string' },
  derive: { type: 'string' },
  resume: { type: 'string' },
  'retrain-missing': { type: 'boolean' },
  workers: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  'inject-leaf-failure': { type: 'string' },
  queue: { type: 'string' },
  store: { type: 'string' },
};

const HELP = `usage: node run.js [search] --space nb201 [flags]

Few-shot NAS on NAS-Bench-201: GM-NAS by default (gradient-matching splits + DARTS).

  --space S                  search space: nb201 (default); darts (DARTS CNN cells, the 7-op s5 set) or darts-none
                             (8 ops with none), docs/spaces.md; mobilenet (ProxylessNAS blocks, GM + ProxylessNAS
                             binary gates by default, splits 2 then 3: docs/mobilenet.md)
  --method gm|fewshot|random|oneshot   how the supernet is split (default gm)
  --base ${BASE_METHOD_NAMES.join('|')}   base method (default: darts; darts2 with --preset paper;
                             proxyless on mobilenet)
  --preset ${PRESETS.join('|')}   sizes and schedule (default quick: ~7 CPU-minutes on lavapipe;
                             paper: the GM-NAS NB201 settings, C=16 N=5, 15/30+30 epochs, R=100)
${COMMON_FLAGS_HELP}
  --split-epochs a,b         epochs at which each level splits (GM paper: 15,30; --epochs is the total)
  --steps-per-epoch S        weight steps per epoch (default: one pass over the weights half)
  --lr LR                    initial weight learning rate (default: the base method's 0.025)
  --branches B               children per split (default 2), or one count per split level: 2,3 (MobileNet's
                             2 then 3, 6 leaves); --groups 2+3 gives the sizes (every level)
  --gm-repeats R             batches per GM score (paper 100)
  --gm-metric ${GM_METRICS.join('|')}   gradient distance (default cos)
  --edge-criterion max-cut|min-intra   which edge to split (default max-cut, as GM on NB201)
  --fewshot-edge E           the edge few-shot splits (default 0)
  --no-restart               children of the last split inherit weights instead of restarting
  --fix-schedule             restarted leaves anneal the LR fully (default: T stays the total, as GM)
  --select ${SELECTORS.join('|')}   final pick among leaves (default val-acc; darts --preset paper:
                             halving by GM's successive_halving.py phases; bench is an oracle)
  --bench FILE               NB201 table (CSV like nb201.csv): report each leaf's benchmark accuracy
  --bench-column COL         table column for reports and --select bench (default cifar10_test)
  --val-batches K            validation batches scoring each leaf (default: preset)
  --rsps-candidates K        RSPS: random architectures scored per leaf (paper 200)
  --downsample F             shrink images by F (quick preset: 2; 28×28 images are zero-padded to 32×32 first)
  --resolution R             image side of the search and its retraining: image folders are decoded at R
                             (default 224), other sets zero-padded and shrunk to R (28×28 Fashion-MNIST:
                             32, 16, 14, 8…); replaces --downsample
  --width-mult W             width multiplier of spaces that have one (mobilenet: C = 32·W, W a multiple of
                             1/32: 0.25, 0.5, 1…); replaces --channels
  --max-flops N              the returned architecture has at most N multiply-adds per image at the search
                             resolution (300M, 3e8; spaces with a cost model: mobilenet); each leaf's pick is
                             moved inside the budget, leaves that cannot be are not selected
  --max-params N             the same for parameters (e.g. 4M)
  --flops-target N           --base proxyless: ProxylessNAS's hardware loss on α with the expected
                             multiply-adds per image (softmax(α)-weighted, per block) as the hardware value
                             and N as its reference (the reference code: 300M at width 1.0)
  --latency-target MS        --base proxyless: the same loss with the expected latency (ms, batch 1) from a
                             lookup table timed on this run's device before training (each op of each
                             block at its input shape, median of 5; in result.json and report.html)
  --flops-loss mul#log|add#linear   its form: a·CE·(log E/log N)^b, a 0.2 b 0.3 (default), or CE + 0.1·(E−N)/N
  --hold-steps K             --base proxyless: a decision without a no-op (mobilenet: the blocks without a
                             shortcut) keeps its drawn op K weight steps (default 1, as ProxylessNAS)
  --proxyless-full           --base proxyless: ProxylessNAS's 'full' mode (every op, weighted by softmax(α))
                             in the weight steps of decisions without a no-op (mobilenet quick: on;
                             --no-proxyless-full turns it off)
  --synthetic-size K         images of the built-in synthetic training set
  --retrain-epochs N         after selection, train the final genotype stand-alone for N epochs on the
                             whole training set and report its test accuracy (default: preset; quick 3)
  --no-retrain               skip that retraining
  --path-tune-steps K        train each leaf's derived path alone K steps before scoring it (quick 50,
                             paper 0: the reference scores the path as the supernet left it)
  --path-bn-recalibrate K    score each leaf's derived path in eval mode with BN statistics re-estimated
                             for it on K training batches (default: preset; MobileNet quick 8, others 0)
  --derive alpha|perturbation  how each leaf's genotype is read off its supernet: argmax of α (the
                             reference) or by perturbation — per edge the op whose removal costs the most
                             validation accuracy (docs/quality.md; not with --base rsps). Default: preset
  --workers N                leaves trained in parallel (default: min(cores, leaves); 1 on wasm)
  --resume DIR               continue a killed run in DIR (its configuration is reused)
  --retrain-missing          with --resume: retrain a node whose checkpoint is missing or damaged from its
                             parent's checkpoint (default: stop and name the file)
  --queue redis://HOST:PORT  train the leaves on \`node run.js worker\` processes through this Redis
                             (rediss:// for TLS; password in the URL or GMNAS_REDIS_PASSWORD)
  --store DIR                with --queue: the folder every machine mounts for checkpoints (default: the run folder)
  --quiet                    no progress output`;

const CONFIG_FLAGS = Object.keys(FLAGS).filter((f) => !['device', 'threads', 'no-autotune', 'out', 'resume', 'retrain-missing', 'workers', 'quiet', 'help', 'inject-leaf-failure', 'queue', 'store'].includes(f));

/** Build the configuration from the flags (preset first, then every explicit flag). */
export function configFromFlags(v: Record<string, unknown>): SearchConfig {
  const space = choiceFlag(v, 'space', SPACE_NAMES, DEFAULT_SPACE_NAME);
  const method = choiceFlag<SearchMethod>(v, 'method', SEARCH_METHODS, 'gm');
  const preset = choiceFlag<PresetName>(v, 'preset', PRESETS, 'quick');
  const base = v.base === undefined ? undefined : choiceFlag<BaseMethodName>(v, 'base', BASE_METHOD_NAMES, 'darts');
  const c = defaultSearchConfig({ space, method, preset, ...(base ? { base } : {}) });
  const common = readCommonFlags(v, { dataset: 'fashion-mnist-embedded', channels: c.channels, cells: c.cells, batchSize: c.batchSize, epochs: c.totalEpochs });
  c.seed = common.seed;
  c.dataset = common.dataset;
  c.dataDir = common.dataDir ?? null;
  c.channels = common.channels;
  c.cells = common.cells;
  c.batchSize = common.batchSize;
  c.totalEpochs = common.epochs;
  c.trainLimit = common.trainLimit ?? null;
  if (c.dataset !== 'synthetic') c.syntheticSize = null;
  if (v['synthetic-size'] !== undefined) c.syntheticSize = intFlag(v, 'synthetic-size', 0, 2);
  if (v['split-epochs'] !== undefined) {
    const text = String(v['split-epochs']).trim();
    c.splitEpochs = text === '' ? [] : text.split(',').map((s) => {
      const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
      if (!Number.isSafeInteger(n)) throw new UsageError(`--split-epochs ${text}: '${s}' is not a non-negative integer`);
      return n;
    });
  } else if (v.epochs !== undefined && c.splitEpochs.length && method !== 'fewshot') {
    // a different total keeps the preset's proportions (GM: splits at 1/4 and 1/2 of the run)
    const ratio = common.epochs / defaultSearchConfig({ space, method, preset, ...(base ? { base } : {}) }).totalEpochs;
    c.splitEpochs = c.splitEpochs.map((s) => Math.max(1, Math.round(s * ratio)));
    for (let i = 1; i < c.splitEpochs.length; i++) c.splitEpochs[i] = Math.max(c.splitEpochs[i], c.splitEpochs[i - 1] + 1);
  }
  if (v['steps-per-epoch'] !== undefined) c.stepsPerEpoch = intFlag(v, 'steps-per-epoch', 1, 1);
  if (v.lr !== undefined) c.lr = numFlag(v, 'lr', 0.025); // the range is validateSearchConfig's (one message)
  if (v.branches !== undefined) {
    const text = String(v.branches).trim();
    const list = text.split(',').map((s) => (/^\d+$/.test(s.trim()) ? Number(s) : NaN));
    if (!text || list.some((n) => !Number.isSafeInteger(n))) throw new UsageError(`--branches ${text}: expected a count like 2, or one per split level like 2,3`);
    c.branches = list.length === 1 ? list[0] : list; // the ranges are validateSearchConfig's (one message)
  }
  if (v.groups !== undefined) {
    const text = String(v.groups);
    c.groupSizes = text.split('+').map((s) => {
      const n = /^\d+$/.test(s.trim()) ? Number(s) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--groups ${text}: expected sizes like 2+3`);
      return n;
    });
    if (c.groupSizes.length < 2) throw new UsageError(`--groups ${text}: expected at least two sizes like 2+3 (one group is no split)`);
    if (v.branches === undefined) c.branches = c.groupSizes.length;
  }
  c.gmRepeats = intFlag(v, 'gm-repeats', c.gmRepeats, 1);
  c.gmMetric = choiceFlag(v, 'gm-metric', GM_METRICS, c.gmMetric);
  c.edgeCriterion = choiceFlag(v, 'edge-criterion', ['max-cut', 'min-intra'] as const, c.edgeCriterion);
  c.fewshotEdge = intFlag(v, 'fewshot-edge', c.fewshotEdge, 0);
  c.restart = !v['no-restart'];
  c.fixSchedule = Boolean(v['fix-schedule']);
  c.select = choiceFlag(v, 'select', SELECTORS, c.select);
  c.bench = v.bench === undefined ? null : resolve(String(v.bench));
  if (v['bench-column'] !== undefined) c.benchColumn = String(v['bench-column']);
  if (v['val-batches'] !== undefined) c.valBatches = intFlag(v, 'val-batches', 1, 1);
  c.rspsCandidates = intFlag(v, 'rsps-candidates', c.rspsCandidates, 1);
  c.halvingEpochs = intFlag(v, 'halving-epochs', c.halvingEpochs, 1);
  if (v['no-retrain'] && v['retrain-epochs'] !== undefined) throw new UsageError('--no-retrain and --retrain-epochs contradict each other; give one');
  c.retrainEpochs = v['no-retrain'] ? 0 : intFlag(v, 'retrain-epochs', c.retrainEpochs, 1);
  c.pathTuneSteps = intFlag(v, 'path-tune-steps', c.pathTuneSteps, 0);
  if (v['path-bn-recalibrate'] !== undefined) c.pathBnRecalibrate = intFlag(v, 'path-bn-recalibrate', 0, 0);
  c.derive = choiceFlag(v, 'derive', DERIVATIONS, c.derive ?? 'alpha');
  // the presets' shrink factor suits 32×32 sets and 28×28 ones (zero-padded to 32 first, see
  // shrinkForNetwork); 16×16 ImageNet16 keeps its size
  if (v.downsample === undefined && c.dataset === 'imagenet16-120') c.downsample = 1;
  c.downsample = intFlag(v, 'downsample', c.downsample, 1);
  if (v.resolution !== undefined) {
    if (v.downsample !== undefined) throw new UsageError('--resolution and --downsample both set the image size; give one');
    c.resolution = intFlag(v, 'resolution', 32, 4);
    c.downsample = 1;
  }
  if (v['width-mult'] !== undefined) {
    if (v.channels !== undefined) throw new UsageError('--width-mult and --channels both set the network width; give one');
    const sp = getSpace(space);
    if (!sp.channelsForWidthMult) throw new UsageError(`--width-mult: the ${space} space has no width multiplier (use --channels)`);
    const w = Number(v['width-mult']);
    try {
      c.channels = sp.channelsForWidthMult(w);
    } catch (e) {
      throw new UsageError(`--width-mult ${String(v['width-mult'])}: ${(e as Error).message}`);
    }
  }
  if (v['max-flops'] !== undefined) c.maxMacs = countFlag(v, 'max-flops');
  if (v['max-params'] !== undefined) c.maxParams = countFlag(v, 'max-params');
  if (v['flops-target'] !== undefined) c.flopsTarget = countFlag(v, 'flops-target');
  if (v['hold-steps'] !== undefined) c.holdSteps = Number(v['hold-steps']);
  if (v['proxyless-full']) c.fullNoOpFree = true;
  if (v['no-proxyless-full']) c.fullNoOpFree = false;
  if (v['latency-target'] !== undefined) {
    const s = String(v['latency-target']);
    c.latencyTarget = /^\s*[0-9]*\.?[0-9]+\s*$/.test(s) ? Number(s) : NaN;
  }
  if (v['flops-loss'] !== undefined) c.flopsLoss = String(v['flops-loss']) as SearchConfig['flopsLoss'];
  if (c.dataDir) c.dataDir = resolve(c.dataDir);
  try {
    validateSearchConfig(c);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return c;
}

/** A positive count such as 300000000, 3e8, 300M, 4.5k or 1G. */
function countFlag(v: Record<string, unknown>, flag: string): number {
  const text = String(v[flag]).trim();
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*([kKmMgG]?)$/.exec(text);
  const n = m ? Number(m[1]) * ({ '': 1, k: 1e3, m: 1e6, g: 1e9 } as Record<string, number>)[m[2].toLowerCase()] : NaN;
  if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`--${flag} ${text}: expected a positive count like 300M, 3e8 or 4500000`);
  return n;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
}

export async function searchCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags('search', argv, FLAGS);
  if (v.help) { console.log(HELP); return 0; }
  if (positionals.length) throw new UsageError(`search: unexpected argument '${positionals[0]}'`);
  let config: SearchConfig;
  let outDir: string;
  const resume = v.resume !== undefined;
  if (resume) {
    if (String(v.resume).trim() === '') throw new UsageError('--resume: expected the run folder');
    outDir = resolve(String(v.resume));
    // only --data-dir may change: the dataset's files can move without changing the run
    const given = CONFIG_FLAGS.filter((f) => v[f] !== undefined && f !== 'data-dir');
    if (given.length) throw new UsageError(`--resume takes the configuration from ${join(outDir, 'state.json')}; drop --${given.join(', --')}`);
    if (v.out !== undefined && resolve(String(v.out)) !== outDir) throw new UsageError('--resume DIR continues in DIR; drop --out');
    if (!existsSync(join(outDir, 'state.json'))) {
      throw new UsageError(`--resume ${outDir}: ${existsSync(outDir) ? 'no state.json there (not a gmnas run folder, or it never started)' : 'no such folder, so no state.json to resume from'}`);
    }
    const state = await new FileStore(outDir).readState<RunState>().catch((e: Error) => { throw new UsageError(`--resume: ${e.message}`); });
    if (!state) throw new UsageError(`--resume ${outDir}: no state.json there (not a gmnas run folder, or it never started)`);
    config = state.config;
    if (v['data-dir'] !== undefined) config = { ...config, dataDir: resolve(String(v['data-dir'])) };
  } else {
    if (v['retrain-missing']) throw new UsageError('--retrain-missing only applies with --resume DIR');
    config = configFromFlags(v);
    if (v.out !== undefined && String(v.out).trim() === '') throw new UsageError('--out: expected a folder name, got an empty string');
    outDir = resolve(v.out === undefined ? join('runs', timestamp()) : String(v.out));
    if (existsSync(join(outDir, 'state.json'))) {
      throw new UsageError(`--out ${outDir} already holds a run; continue it with --resume ${outDir}, or choose another folder`);
    }
  }
  const { device: deviceFlag, threads, autotune } = readCommonFlags({ device: v.device, threads: v.threads, 'no-autotune': v['no-autotune'] },
    { dataset: 'fashion-mnist-embedded', channels: 1, cells: 1, batchSize: 1, epochs: 1 });
  const workersFlag = v.workers === undefined ? undefined : intFlag(v, 'workers', 1, 1);
  const failNodes = v['inject-leaf-failure'] === undefined ? undefined : String(v['inject-leaf-failure']).split(',').map(Number);

  const view = createProgressView({ quiet: Boolean(v.quiet) });
  // --queue: checkpoints in the shared store (SHA-256-checked), leaves on the queue's workers
  const queued = v.queue === undefined ? null : queuedSearchSetup({
    queue: String(v.queue), store: v.store === undefined ? null : String(v.store), outDir,
    onProgress: (e) => view.event(e), onLog: (l) => view.log(l), config, failNodes,
  });
  if (!queued && v.store !== undefined) throw new UsageError('--store goes with --queue (a local run keeps its checkpoints in the run folder)');
  if (resume && !queued) checkResumeStore(outDir, null);
  const benchTable = config.bench ? loadBenchTable(config.bench) : null;
  if (benchTable) {
    try { checkBenchColumn(benchTable, config.benchColumn); } catch (e) { throw new UsageError((e as Error).message); }
  }
  const data = loadSearchData(config);
  const testSet = config.retrainEpochs > 0 ? loadSearchTestSet(config) : undefined;
  const backend = await createBackend(deviceFlag, { log: (m) => view.log(`note: ${m}`), threads, ...autotuneBackendOptions(autotune) });
  const store = queued ? queued.store : new FileStore(outDir);
  const leaves = expectedLeafCount(config);
  // the wasm backend already spreads each kernel over the cores: one leaf at a time unless asked
  // (on WebGPU the leaf pool may take fewer: its devices must fit the process's mapping limit)
  const workers = workersFlag ?? (backend.kind === 'wasm' ? 1 : Math.max(1, Math.min(availableParallelism(), leaves)));
  const deviceName = describeBackend(backend);
  view.log(`gmnas search: ${config.method} + ${config.base}, preset ${config.preset}, seed ${config.seed}, ` +
    `${config.dataset} (${data.train.size} images ${data.imageShape.join('×')}), ${describeSize(getSpace(config.space), { C: config.channels, N: config.cells })}, ` +
    `epochs ${config.totalEpochs} (splits at ${config.splitEpochs.join(', ') || 'none'}), ${workers} worker(s)`);
  view.log(`device: ${deviceName}`);
  view.log(`output: ${outDir}`);
  let result: SearchResult;
  try {
    result = await runSearch({
      config, backend, data, store, resume, benchTable, deviceName, retrainMissing: Boolean(v['retrain-missing']),
      ...(testSet ? { testSet } : {}),
      onProgress: (e) => view.event(e), onLog: (l) => view.log(l),
      ...(queued ? { leafRunner: queued.leafRunner, genotypeTrainer: queued.genotypeTrainer } : workers > 1 || failNodes ? {
        leafRunner: poolLeafRunner({
          config, location: outDir, device: backend.kind, autotune, workers, ...(threads ? { threads } : {}),
          onProgress: (e) => view.event(e), onLog: (l) => view.log(l), ...(failNodes ? { failNodes } : {}),
        }),
      } : {}),
    });
  } finally {
    view.stop();
    backend.dispose();
  }
  await store.writeText('report.html', renderReport(result));
  console.log(summarize(result, outDir));
  return result.failedLeaves.length ? 1 : 0;
}

/** The end-of-run summary: tree, each split's distance matrix and groups, leaves, final genotype. */
export function summarize(r: SearchResult, outDir: string): string {
  const lines: string[] = [];
  const tree = PartitionTree.fromJSON(r.tree, r.splits, getSpace(r.space));
  const leafBy = new Map(r.leaves.map((l) => [l.node, l]));
  lines.push('', 'partition tree:');
  lines.push(tree.render((n) => {
    const l = leafBy.get(n.id);
    return l ? `\n${' '.repeat(4 + 3 * n.depth)}leaf: ${l.genotype}  val ${l.val.accuracy.toFixed(2)} %${l.valUntuned ? ` (untuned ${l.valUntuned.accuracy.toFixed(2)} %)` : ''}${l.supernetVal ? ` (supernet ${l.supernetVal.accuracy.toFixed(2)} %)` : ''}${l.bench ? `  bench ${r.config.benchColumn} ${l.bench[r.config.benchColumn]}` : ''}` : '';
  }));
  for (const s of r.splits) {
    lines.push('', `split of node ${s.node}: edge ${s.edge} (${s.edgeName}) → ${s.groups.map((g) => `{${g.join(', ')}}`).join(' ')}` +
      (s.cutScore !== null ? `   cut distance ${s.cutScore.toFixed(4)}` : `   (${s.criterion})`));
    if (s.distance) {
      const w = Math.max(...s.ops.map((o) => o.length));
      lines.push(`  ${''.padEnd(w)}  ${s.ops.map((o) => o.slice(0, 8).padStart(9)).join('')}`);
      s.distance.forEach((row, i) => lines.push(`  ${s.ops[i].padEnd(w)}  ${row.map((d) => d.toFixed(4).padStart(9)).join('')}`));
    }
  }
  if (r.failedLeaves.length) lines.push('', `FAILED leaves: ${r.failedLeaves.map((f) => `node ${f.node} (${f.error})`).join('; ')}`);
  lines.push('', `final architecture (selected by ${r.final.selectedBy}${r.final.oracle ? ' — an ORACLE pick from benchmark accuracies, not a search result' : ''}):`);
  lines.push(`  ${r.final.genotype}`);
  if (r.final.bench) lines.push(`  benchmark ${r.config.benchColumn}: ${r.final.bench[r.config.benchColumn]}`);
  const fc = r.final.cost;
  if (fc) lines.push(`  cost: ${fc.params} parameters, ${fc.macs} multiply-adds per image at ${fc.resolution}×${fc.resolution}`);
  const picked = r.leaves.find((l) => l.node === r.final.node);
  if (picked?.unconstrained) lines.push(`  (moved inside the budget from ${picked.unconstrained.genotype}: ${picked.unconstrained.cost.params} parameters, ${picked.unconstrained.cost.macs} multiply-adds)`);
  const rt = r.final.retrain;
  if (rt) {
    lines.push(`  retrained: test accuracy ${rt.testAccuracy.toFixed(2)} %  loss ${rt.testLoss.toFixed(4)}  ` +
      `(${rt.parameters} parameters, ${rt.seconds.toFixed(1)} s)`);
    if (rt.trainingStatsTest) lines.push(`  (with the BN statistics training left: ${rt.trainingStatsTest.accuracy.toFixed(2)} %)`);
    lines.push(`  protocol: ${rt.protocol.description}`);
    if (rt.latency) lines.push(`  latency (${r.device}, eval forward): ${rt.latency.map((l) => `batch ${l.batch} ${l.medianMs.toFixed(1)} ms`).join(', ')} (median of ${rt.latency[0]?.repeats}; wall-clock, machine load included)`);
  } else if (r.config.retrainEpochs === 0) {
    lines.push('  not retrained (--no-retrain)');
  }
  const total = Object.values(r.timings).reduce((a, b) => a + b, 0);
  lines.push('', `time ${total.toFixed(1)} s  (${Object.entries(r.timings).map(([k, t]) => `${k} ${t.toFixed(1)}`).join(', ')})`);
  lines.push(`result: ${join(outDir, 'result.json')}   report: ${join(outDir, 'report.html')}`);
  return lines.join('\n');
}
