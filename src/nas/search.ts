// A whole search: GM-NAS (spec §3.8), few-shot and random splits (§4), or one-shot, on one code path.
//
//   for each split level k:   for each node of the level (in order):
//       train it to split epoch k (α frozen) → split it (GM: score every unsplit edge, balanced min-cut,
//       pick the edge with the largest cut distance; fewshot: one op per child on a fixed edge; random:
//       random edge, random balanced groups) → children inherit its state, or restart at the last split
//   leaves: train with the base method (α updated), derive a genotype, score it on the validation half
//   select the final architecture (validation accuracy / loss, successive halving, or the bench oracle)
//
// Everything goes through a RunStore: the state after every epoch and every split is saved, so a
// killed run resumes where it stopped and — on the CPU backend — ends exactly as an uninterrupted one.
// Per-(node, epoch) data samplers and per-node GM samplers make that possible.
import type { Backend } from '../engine/index.js';
import { Rng, hashSeed } from '../data/rng.js';
import { BatchSampler, evalBatches } from '../data/sampler.js';
import { getSpace, type BenchTable, type SearchSpace } from '../spaces/registry.js';
import type { BaseMethod } from '../search/method.js';
import { trainStandalone } from '../search/standalone.js';
import { PartitionTree, type SplitRecord } from './tree.js';
import { chooseSplitEdgeRagged, initGmnasWasm } from './cut.js';
import { runSuccessiveHalving, successiveHalvingSchedule } from './halving.js';
import { runPhasedHalving, checkHalvingProtocol } from './phased-halving.js';
import type { HalvingProtocol } from '../spaces/space.js';
import { gmEdgeDistance } from './gm-score.js';
import { measureLatencyTable, type LatencyTable } from './latency-table.js';
import { describeBackend } from '../engine/select-backend.js';
import { validateSearchConfig, RESUME_NEUTRAL_FIELDS, branchesAt, levelBranches, type SearchConfig } from './config.js';
import {
  materializeNode, createNodeMethod, trainNodeEpochs, runLeafJob, checkpointName, nodeSeed, validationData,
  type SearchData, type NodeProgress, type NodeSchedule, type LeafResult, type ProgressListener,
} from './phases.js';
import type { RunStore } from './store.js';
import type { RetrainResult } from './retrain.js';
import { localGenotypeTrainer, type GenotypeTrainer } from './genotype-training.js';
import { configBudget, costFunction, checkBudgetFeasible, describeExcess, type GenotypeCost } from './budget.js';
import type { Dataset } from '../data/dataset.js';
import { sealJson } from '../io/sealed-json.js';

export const RESULT_VERSION = 1;

export interface RunState {
  version: 1;
  config: SearchConfig;
  tree: ReturnType<PartitionTree['toJSON']>;
  splits: SplitRecord[];
  progress: Record<string, NodeProgress>;
  leaves: Record<string, LeafResult>;
  timings: Record<string, number>;
  startedAt: string;
  /** the final genotype's stand-alone retraining, once done (a resumed run does not redo it) */
  retrain?: RetrainResult;
}

/** Runs the leaves of the last level; the default runs them one after another in this thread. */
export type LeafRunner = (jobs: { node: NodeSchedule; progress: NodeProgress }[],
  ctx: { onEpochSaved: (node: number, p: NodeProgress) => Promise<void>; onResult: (r: LeafResult) => Promise<void> }) => Promise<{ failed: { node: number; error: string }[] }>;

export interface RunSearchOptions {
  config: SearchConfig;
  backend: Backend;
  data: SearchData;
  store: RunStore;
  /** continue the run in `store` (its config must equal `config`) */
  resume?: boolean;
  /** the NB201 table when `config.bench` is set */
  benchTable?: BenchTable | null;
  /** how the device is described in the result */
  deviceName: string;
  onProgress?: ProgressListener;
  onLog?: (line: string) => void;
  leafRunner?: LeafRunner;
  /** the dataset's test split (raw resolution): with config.retrainEpochs > 0 the final genotype is
   *  retrained stand-alone and scored on it (final.retrain); without it there is no retraining */
  testSet?: Dataset;
  /** test hook: throw after this many saved epochs (simulates a killed run) */
  stopAfterEpochs?: number;
  /** resume: a node whose checkpoint is missing or fails its check is rebuilt from its parent's
   *  checkpoint (the root: from its seed) and retrained, instead of stopping the run */
  retrainMissing?: boolean;
  /** runs the halving rounds' and the final retraining's stand-alone trainings (default: here, one
   *  after another; src/pool: train-genotype jobs on queue workers) */
  genotypeTrainer?: GenotypeTrainer;
}

export interface FinalPick {
  node: number;
  genotype: string;
  selectedBy: 'val-acc' | 'val-loss' | 'supernet-val-acc' | 'halving' | 'bench';
  /** true when the pick used benchmark accuracies (an oracle, not a search result) */
  oracle: boolean;
  scores: { node: number; genotype: string; score: number }[];
  halving?: {
    rounds: { round: number; epochs: number; candidates: number[]; scores: number[]; kept: number[]; fromEpoch?: number; curves?: number[][] }[];
    /** the space's reference schedule, when it has one (epochs of one continuing training per leaf) */
    protocol?: HalvingProtocol & { notes?: string[] };
  };
}

export interface SearchResult {
  version: number;
  space: string;
  method: SearchConfig['method'];
  base: SearchConfig['base'];
  seed: number;
  config: SearchConfig;
  device: string;
  dataset: { name: string; trainImages: number; weightsHalf: number; archHalf: number; imageShape: readonly number[]; classes: number };
  tree: { nodes: { id: number; parent: number | null; depth: number; mask: string; children: number[]; archs: number }[] };
  splits: (SplitRecord & { edgeName: string; ops: string[] })[];
  leaves: (LeafResult & { bench?: Record<string, number | string> })[];
  failedLeaves: { node: number; error: string }[];
  final: FinalPick & { bench?: Record<string, number | string>; retrain?: RetrainResult; cost?: GenotypeCost };
  timings: Record<string, number>;
  startedAt: string;
  finishedAt: string;
}

export class StopRequested extends Error {}

const GM_STREAM = 0x6e6d;
const RANDOM_SPLIT_STREAM = 0x7a4d;

export async function runSearch(o: RunSearchOptions): Promise<SearchResult> {
  const c = o.config;
  validateSearchConfig(c);
  if (c.bench && !o.benchTable) throw new Error('--bench: the table was not loaded');
  if (o.benchTable) checkBenchColumn(o.benchTable, c.benchColumn);
  await initGmnasWasm();
  // a selection that cannot run must fail now, not after every epoch of the search
  const space = getSpace(c.space);
  if (c.select === 'halving') {
    if (space.halvingProtocol) checkHalvingProtocol(space.halvingProtocol(c.halvingEpochs));
    else halvingSchedule(expectedLeafCount(c));
  }
  // a budget no architecture meets must fail now (the sizes and resolution are the data's)
  const budget = configBudget(c);
  const sizes = { C: c.channels, N: c.cells, inputChannels: o.data.imageShape[0], numClasses: o.data.numClasses };
  if (budget) checkBudgetFeasible(space, space.fullMask(), costFunction(space, sizes, o.data.imageShape[1]), budget);
  const log = o.onLog ?? (() => {});
  let state = o.resume ? await o.store.readState<RunState>() : null;
  const savedLatencyTable = state?.config.latencyTable;
  if (o.resume) {
    if (!state) throw new Error(`--resume ${o.store.location ?? ''}: no run state (state.json) there`);
    const a = JSON.stringify(resumeKey(state.config)), b = JSON.stringify(resumeKey(c));
    if (a !== b) throw new Error(`--resume: the run was started with a different configuration; resume it with the same flags\n  saved:  ${a}\n  now:    ${b}`);
    state.config = c; // a moved --data-dir is recorded
    log(`resuming: ${Object.keys(state.leaves).length} leaves done, ${state.splits.length} splits done`);
  }
  if (!state) {
    state = {
      version: 1, config: c, tree: new PartitionTree(space.fullMask(), space).toJSON(), splits: [], progress: {}, leaves: {}, timings: {},
      startedAt: new Date().toISOString(),
    };
    await o.store.writeState(state);
  }
  const st = state;
  if (c.latencyTarget !== undefined && !c.latencyTable) {
    // measured once per run, before any training; a resumed run keeps the numbers it started with
    c.latencyTable = savedLatencyTable ?? await measureLatencyTable(o.backend, space, sizes, o.data.imageShape[1], { device: describeBackend(o.backend) });
    log(`latency table (${c.latencyTable.device}, batch 1, median of ${c.latencyTable.repeats}): fixed ${c.latencyTable.fixed.toFixed(3)} ms, ` +
      `ops ${latencyRange(c.latencyTable)} ms`);
    st.config = c;
    await o.store.writeState(st);
  }
  const tree = PartitionTree.fromJSON(st.tree, st.splits, space);
  const save = async (): Promise<void> => {
    st.tree = tree.toJSON();
    st.splits = tree.splits;
    await o.store.writeState(st);
  };
  let savedEpochs = 0;
  const onEpochSaved = async (node: number, p: NodeProgress): Promise<void> => {
    st.progress[node] = p;
    await save();
    if (o.stopAfterEpochs !== undefined && ++savedEpochs >= o.stopAfterEpochs) throw new StopRequested(`stopped after ${savedEpochs} epochs (test hook)`);
  };
  const time = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try { return await fn(); } finally { st.timings[key] = (st.timings[key] ?? 0) + (Date.now() - t0) / 1000; }
  };

  const levels = c.splitEpochs.length;
  const lastSplit = levels ? c.splitEpochs[levels - 1] : 0;
  const schedule = (id: number): NodeSchedule => {
    const n = tree.node(id);
    const leafLevel = n.depth === levels;
    return {
      id, mask: n.mask,
      fromEpoch: n.depth === 0 ? 0 : c.splitEpochs[n.depth - 1],
      toEpoch: leafLevel ? c.totalEpochs : c.splitEpochs[n.depth],
      restartedAt: leafLevel && levels > 0 && c.restart ? lastSplit : null,
    };
  };
  const progressOf = (id: number): NodeProgress => st.progress[id] ?? { epochsDone: schedule(id).fromEpoch, history: [] };
  /** A child's first checkpoint: the parent's state (or fresh weights after the final split with restart). */
  const spawnChild = async (parent: BaseMethod, child: number, isFinal: boolean, epochsDone: number): Promise<void> => {
    const m = parent.spawn(tree.node(child).mask, { inherit: !(isFinal && c.restart), seed: nodeSeed(c, child) });
    const childProgress: NodeProgress = { epochsDone, history: [] };
    try {
      await o.store.saveCheckpoint(checkpointName(child), m, childProgress);
    } finally {
      m.dispose();
    }
    st.progress[child] = childProgress;
  };
  /** A node about to be trained whose checkpoint state.json records (its progress is there) must have
   *  that checkpoint, intact: a fresh start would keep the recorded epochs on untrained weights. */
  const ensureCheckpoint = async (id: number): Promise<void> => {
    // never saved: starts from its seed, as in an uninterrupted run (and a run of this process wrote what it reads)
    if (!o.resume || !(id in st.progress)) return;
    const name = checkpointName(id);
    const file = o.store.checkpointLocation?.(name) ?? `checkpoint '${name}'`;
    let problem: string | null = null;
    if (!o.store.hasCheckpoint(name)) problem = `${file} is missing`;
    else {
      const probe = createNodeMethod(c, o.backend, o.data, id, tree.node(id).mask);
      try { await o.store.loadCheckpoint(name, probe); } catch (e) { problem = (e as Error).message; } finally { probe.dispose(); }
    }
    if (problem === null) return;
    const n = tree.node(id);
    const epochs = st.progress[id].epochsDone;
    if (!o.retrainMissing) {
      const from = n.parent === null ? 'from its seed (epoch 0)' : `from its parent's checkpoint (node ${n.parent}, epoch ${schedule(id).fromEpoch})`;
      throw new Error(`cannot resume: ${problem}, but state.json records node ${id} trained to epoch ${epochs}.\n` +
        `  ways out: put the file back; or resume with --retrain-missing to retrain node ${id} ${from}; or start over in a new --out folder`);
    }
    if (n.parent === null) {
      log(`node ${id}: ${problem}; retraining it from its seed (--retrain-missing)`);
      delete st.progress[id];
      await save();
      return;
    }
    const ps = schedule(n.parent);
    const { method: parent, progress } = await materializeNode(c, o.backend, o.data, o.store, ps, progressOf(n.parent)).catch((e: Error) => {
      throw new Error(`cannot retrain node ${id} (--retrain-missing): its parent's checkpoint is unusable too (${e.message}); start over in a new --out folder`);
    });
    try {
      if (progress.epochsDone !== ps.toEpoch) {
        throw new Error(`cannot retrain node ${id} (--retrain-missing): its parent's checkpoint holds epoch ${progress.epochsDone}, not the split epoch ${ps.toEpoch}; start over in a new --out folder`);
      }
      log(`node ${id}: ${problem}; retraining it from its parent's checkpoint (node ${n.parent}, epoch ${ps.toEpoch}; --retrain-missing)`);
      const isFinal = n.depth === levels;
      if (!(isFinal && c.restart)) {
        // The uninterrupted run spawned its children after scoring the split, which moves the parent's
        // BN running statistics and its sampling stream (SNAS/GDAS/RSPS draw θ per GM repeat); the
        // child inherits both. The parent's checkpoint holds the state before the scoring, so it is
        // replayed (deterministic: per-node GM sampler, sampling stream from the checkpoint) — the
        // rebuilt child is then the uninterrupted one. A restarted child takes nothing from its parent.
        const again = await chooseSplit(c, parent, o.data, n.parent, o.onProgress);
        const recorded = tree.splits.find((s) => s.node === n.parent);
        const groups = again.groups.map((g) => [...g].sort((a, b) => a - b)); // the record keeps each group sorted
        if (recorded && (again.edge !== recorded.edge || JSON.stringify(groups) !== JSON.stringify(recorded.groupIndices))) {
          log(`node ${id}: warning: replaying node ${n.parent}'s split chose edge ${again.edge} groups ${JSON.stringify(groups)}, the run recorded edge ${recorded.edge} groups ${JSON.stringify(recorded.groupIndices)} (not a bit-exact backend?); node ${id} may differ from an uninterrupted run`);
        }
      }
      await spawnChild(parent, id, isFinal, ps.toEpoch);
      await save();
    } finally {
      parent.dispose();
    }
  };

  // ---- split levels -----------------------------------------------------------------------------
  for (let level = 0; level < levels; level++) {
    for (const n of tree.level(level)) {
      if (n.children.length) continue; // split before the run was stopped
      await ensureCheckpoint(n.id);
      const sched = schedule(n.id);
      const { method, progress } = await materializeNode(c, o.backend, o.data, o.store, sched, progressOf(n.id));
      try {
        if (progress.epochsDone < sched.toEpoch) {
          log(`node ${n.id}: training epochs ${progress.epochsDone}–${sched.toEpoch - 1} (mask ${space.maskToString(n.mask)}, α frozen)`);
        }
        await time(`warmup.level${level}`, () => trainNodeEpochs(c, method, o.data, sched, progress, {
          store: o.store, phase: 'warmup', onProgress: o.onProgress, onEpochSaved: (p) => onEpochSaved(n.id, p),
        }));
        const split = await time(`split.level${level}`, () => chooseSplit(c, method, o.data, n.id, o.onProgress, level));
        const isFinal = level === levels - 1;
        const children = tree.split(n.id, split.edge, split.groups, {
          criterion: c.method === 'gm' ? 'gm' : c.method === 'fewshot' ? 'fewshot' : 'random',
          distance: split.distance, cutScore: split.cutScore, ...(split.candidates ? { candidates: split.candidates } : {}),
        });
        log(`node ${n.id}: split edge ${split.edge} (${edgeName(space, split.edge)}) into ${split.groups.map((g) => `{${g.map((i) => space.decisions[split.edge].ops[i]).join(', ')}}`).join(' ')}` +
          (split.cutScore !== null ? `, cut distance ${split.cutScore.toFixed(4)}` : ''));
        for (const child of children) await spawnChild(method, child.id, isFinal, sched.toEpoch);
        await save();
      } finally {
        method.dispose();
      }
    }
  }

  // ---- leaves -----------------------------------------------------------------------------------
  const leafNodes = tree.leaves();
  for (const n of leafNodes) if (!st.leaves[n.id]) await ensureCheckpoint(n.id);
  const pending = leafNodes.filter((n) => !st.leaves[n.id]).map((n) => ({ node: schedule(n.id), progress: progressOf(n.id) }));
  const onResult = async (r: LeafResult): Promise<void> => {
    st.leaves[r.node] = r;
    await save();
    log(`leaf ${r.node}: ${r.genotype}  val acc ${r.val.accuracy.toFixed(2)} %  loss ${r.val.loss.toFixed(4)}` +
      (r.valUntuned ? `  (untuned ${r.valUntuned.accuracy.toFixed(2)} %)` : '') +
      (r.supernetVal ? `  (supernet ${r.supernetVal.accuracy.toFixed(2)} %)` : ''));
  };
  const runner: LeafRunner = o.leafRunner ?? (async (jobs, ctx) => {
    for (const j of jobs) {
      const r = await runLeafJob(c, o.backend, o.data, o.store, j.node, j.progress, {
        onEpochSaved: (p) => ctx.onEpochSaved(j.node.id, p), onProgress: o.onProgress,
      });
      await ctx.onResult(r);
    }
    return { failed: [] };
  });
  const t0 = Date.now();
  const { failed } = pending.length ? await runner(pending, { onEpochSaved, onResult }) : { failed: [] };
  st.timings.leaves = (st.timings.leaves ?? 0) + (Date.now() - t0) / 1000;
  const done = leafNodes.filter((n) => st.leaves[n.id]).map((n) => st.leaves[n.id]);
  if (!done.length) throw new Error(`every leaf failed: ${failed.map((f) => `node ${f.node}: ${f.error}`).join('; ')}`);

  // ---- selection --------------------------------------------------------------------------------
  const final = await time('select', () => selectFinal(c, o, done));
  const benchOf = (g: string): Record<string, number | string> | undefined => (o.benchTable ? benchRecord(o.benchTable, g) : undefined);
  await save();

  // ---- retraining the final genotype (the paper's last step) ----------------------------------------
  if (c.retrainEpochs > 0 && o.testSet && st.retrain?.genotype !== final.genotype) {
    log(`retraining ${final.genotype} stand-alone for ${c.retrainEpochs} epoch(s)`);
    const [r] = await time('retrain', () => genotypeTrainer(c, o)([{ purpose: 'retrain', node: final.node, genotype: final.genotype, epochs: c.retrainEpochs }]));
    if (r?.purpose !== 'retrain') throw new Error('retrain: the trainer returned no retraining result');
    st.retrain = r.retrain;
    await save();
  }
  const retrain = c.retrainEpochs > 0 && st.retrain?.genotype === final.genotype ? st.retrain : undefined;
  const result: SearchResult = {
    version: RESULT_VERSION, space: c.space, method: c.method, base: c.base, seed: c.seed, config: c, device: o.deviceName,
    dataset: {
      name: o.data.train.name, trainImages: o.data.train.size, weightsHalf: o.data.split.weights.length, archHalf: o.data.split.arch.length,
      imageShape: o.data.imageShape, classes: o.data.numClasses,
    },
    tree: tree.toJSON(),
    splits: tree.splits.map((s) => ({ ...s, edgeName: edgeName(space, s.edge), ops: space.enabledOps(tree.node(s.node).mask, s.edge).map((i) => space.decisions[s.edge].ops[i]) })),
    leaves: done.map((l) => { const b = benchOf(l.genotype); return b ? { ...l, bench: b } : l; }),
    failedLeaves: failed,
    final: {
      ...final, ...(benchOf(final.genotype) ? { bench: benchOf(final.genotype) } : {}), ...(retrain ? { retrain } : {}),
      ...(space.cost ? { cost: costFunction(space, sizes, o.data.imageShape[1])(space.parseGenotype(final.genotype)) } : {}),
    },
    timings: st.timings, startedAt: st.startedAt, finishedAt: new Date().toISOString(),
  };
  await o.store.writeText('result.json', sealJson(result));
  return result;
}

/** The reported (and --select bench) column must exist and hold a number in every row. */
export function checkBenchColumn(t: BenchTable, column: string): void {
  if (!t.hasColumn(column)) {
    throw new Error(`--bench-column ${column}: ${t.source} has no such column (numeric columns: ${t.numericColumns().join(', ')})`);
  }
  try {
    t.column(column);
  } catch (e) {
    throw new Error(`--bench-column ${column}: ${(e as Error).message} (numeric columns: ${t.numericColumns().join(', ') || 'none'})`);
  }
}

/** The table's numeric values for a genotype (undefined when the table lacks it). */
export function benchRecord(t: BenchTable, genotype: string): Record<string, number | string> | undefined {
  const row = t.find(genotype);
  if (!row) return undefined;
  const out: Record<string, number | string> = { arch_str: row.archStr };
  for (const col of t.numericColumns()) {
    const v = t.value(row.genotype, col);
    if (v !== undefined) out[col] = v;
  }
  return out;
}

function edgeName(space: SearchSpace, e: number): string {
  return space.decisions[e].key;
}

interface SplitChoice {
  edge: number;
  groups: number[][];
  distance: number[][] | null;
  cutScore: number | null;
  candidates?: SplitRecord['candidates'];
}

/** Pick the edge and groups of a split (GM, few-shot or random). */
export async function chooseSplit(c: SearchConfig, method: BaseMethod, data: SearchData, node: number, onProgress?: ProgressListener, level = 0): Promise<SplitChoice> {
  const space = method.space;
  const branches = branchesAt(c, level);
  // explicit --groups fix one size tuple: only decisions with that many ops can take it
  const groupTotal = c.groupSizes ? c.groupSizes.reduce((a, b) => a + b, 0) : 0;
  const unsplit = c.method === 'fewshot' ? space.unsplit(method.mask)
    : space.split.candidates(method.mask).filter((d) => !c.groupSizes || space.decisions[d].ops.length === groupTotal);
  if (c.method === 'fewshot') {
    if (!unsplit.includes(c.fewshotEdge)) throw new Error(`--fewshot-edge ${c.fewshotEdge}: that edge is already split in node ${node}`);
    return { edge: c.fewshotEdge, groups: space.enabledOps(method.mask, c.fewshotEdge).map((o) => [o]), distance: null, cutScore: null };
  }
  if (!unsplit.length) {
    throw new Error(`node ${node} has no unsplit edge left${c.groupSizes ? ` with ${groupTotal} ops (--groups ${c.groupSizes.join('+')})` : ''} (mask ${space.maskToString(method.mask)}); use fewer split levels`);
  }
  if (c.method === 'random') {
    const rng = new Rng(hashSeed(c.seed, RANDOM_SPLIT_STREAM, node));
    const edge = unsplit[rng.int(unsplit.length)];
    const sizes = c.groupSizes ?? space.split.groupSizes(space.decisions[edge].ops.length, branches)[0];
    const perm = Array.from(rng.permutation(space.decisions[edge].ops.length));
    const groups: number[][] = [];
    let at = 0;
    for (const s of sizes) { groups.push(perm.slice(at, at + s).sort((a, b) => a - b)); at += s; }
    return { edge, groups, distance: null, cutScore: null };
  }
  // GM: one sampler for the node, consumed edge after edge (the reference draws from one loader)
  const batches = new BatchSampler(data.train, {
    batchSize: c.batchSize, seed: hashSeed(c.seed, GM_STREAM, node), sampling: 'independent', augment: data.augment ?? true, indices: data.split.weights,
  });
  const matrices: { edge: number; matrix: number[][]; ops: number[] }[] = [];
  for (let k = 0; k < unsplit.length; k++) {
    const edge = unsplit[k];
    const d = await gmEdgeDistance(method, edge, {
      repeats: c.gmRepeats, metric: c.gmMetric, batches,
      onRepeat: (r) => onProgress?.({ phase: 'split', node, label: `node ${node} GM edge ${edgeName(space, edge)} (${k + 1}/${unsplit.length})`, done: r, total: c.gmRepeats }),
    });
    matrices.push({ edge, matrix: d.distance, ops: d.ops });
  }
  // the space may allow several group-size tuples per op count (DARTS: (2,5) or (3,4)) and decisions of
  // different op counts (MobileNet: 6 or 7 ops per block); explicit --groups fix one tuple
  const choice = chooseSplitEdgeRagged(matrices.map((m) => ({ edge: m.edge, matrix: m.matrix })),
    (n) => (c.groupSizes ? [c.groupSizes] : space.split.groupSizes(n, branches)), { criterion: c.edgeCriterion });
  const opsOf = (edge: number): number[] => matrices.find((m) => m.edge === edge)!.ops;
  const toOps = (edge: number, groups: number[][]): number[][] => groups.map((g) => g.map((i) => opsOf(edge)[i]));
  return {
    edge: choice.edge,
    groups: toOps(choice.edge, choice.groups),
    distance: matrices.find((m) => m.edge === choice.edge)!.matrix,
    cutScore: choice.cutScore,
    candidates: choice.perEdge.map((p) => ({
      edge: p.edge, distance: matrices.find((m) => m.edge === p.edge)!.matrix, cutScore: p.cutScore,
      groups: toOps(p.edge, p.groups).map((g) => g.map((i) => space.decisions[p.edge].ops[i])),
    })),
  };
}

/** The config without the fields a resume may change (RESUME_NEUTRAL_FIELDS). */
function resumeKey(c: SearchConfig): Partial<SearchConfig> {
  const k: Partial<SearchConfig> = { ...c };
  for (const f of RESUME_NEUTRAL_FIELDS) delete k[f];
  return k;
}

/** Round r trains its survivors from scratch for (r + 1)·halvingEpochs epochs: one schedule unit per round. */
const HALVING_OPTIONS = { epochsPerRound: 1 } as const;

/** The successive-halving schedule over `leaves` candidates (throws when it cannot be built). */
export function halvingSchedule(leaves: number): ReturnType<typeof successiveHalvingSchedule> {
  try {
    return successiveHalvingSchedule(leaves, HALVING_OPTIONS);
  } catch (e) {
    throw new Error(`--select halving: no schedule for ${leaves} leaves (${(e as Error).message})`);
  }
}

/** Leaves a complete search of `c` ends with: one per op for few-shot (its `branches`, checked by the
 *  config), the product of the levels' branching for GM/random (2 then 3: 6). */
export function expectedLeafCount(c: SearchConfig): number {
  if (!c.splitEpochs.length) return 1;
  if (c.method === 'fewshot') return branchesAt(c, 0);
  return levelBranches(c).reduce((a, b) => a * b, 1);
}

async function selectFinal(c: SearchConfig, o: RunSearchOptions, all: LeafResult[]): Promise<FinalPick> {
  // a budget is a hard constraint: leaves that could not be brought within it do not compete
  const leaves = all.filter((l) => !l.overBudget);
  if (!leaves.length) {
    const b = configBudget(c)!;
    throw new Error(`--max-flops/--max-params: no leaf's architecture fits the budget (${all.map((l) => `leaf ${l.node}: ${l.cost ? describeExcess(l.cost, b) : 'no cost'}`).join('; ')})`);
  }
  const pick = (scores: { node: number; genotype: string; score: number }[], higher: boolean, selectedBy: FinalPick['selectedBy']): FinalPick => {
    let best = scores[0];
    for (const s of scores) if (higher ? s.score > best.score : s.score < best.score) best = s;
    return { node: best.node, genotype: best.genotype, selectedBy, oracle: selectedBy === 'bench', scores };
  };
  switch (c.select) {
    case 'val-acc': return pick(leaves.map((l) => ({ node: l.node, genotype: l.genotype, score: l.val.accuracy })), true, 'val-acc');
    case 'val-loss': return pick(leaves.map((l) => ({ node: l.node, genotype: l.genotype, score: l.val.loss })), false, 'val-loss');
    case 'supernet-val-acc': return pick(leaves.map((l) => {
      if (!l.supernetVal) throw new Error(`--select supernet-val-acc: leaf ${l.node} has no supernet score (a result from an older gmnas; rerun its leaves)`);
      return { node: l.node, genotype: l.genotype, score: l.supernetVal.accuracy };
    }), true, 'supernet-val-acc');
    case 'bench': {
      const t = o.benchTable!;
      const scores = leaves.map((l) => {
        const v = t.value(l.genotype, c.benchColumn);
        if (v === undefined || !Number.isFinite(v)) throw new Error(`--select bench: ${t.source} has no '${c.benchColumn}' value for ${l.genotype}`);
        return { node: l.node, genotype: l.genotype, score: v };
      });
      return pick(scores, true, 'bench');
    }
    case 'halving': {
      const space = getSpace(c.space);
      if (space.halvingProtocol) return referenceHalving(c, o, leaves, space);
      // successive halving over short stand-alone trainings of the leaves' genotypes; each round
      // trains the survivors from scratch for the round's cumulative epochs
      // (a round's trainings are independent: a queued run trains them at once on its workers)
      const trainer = genotypeTrainer(c, o);
      const res = await runSuccessiveHalving(leaves.length, async (alive, round) => {
        const results = await trainer(alive.map((i) => ({
          purpose: 'halving' as const, node: leaves[i].node, round: round.round, genotype: leaves[i].genotype,
          epochs: round.endEpoch * c.halvingEpochs, seed: hashSeed(c.seed, 0x4a1f, leaves[i].node),
        })));
        return results.map((r, k) => {
          if (r.purpose !== 'halving' || r.node !== leaves[alive[k]].node) throw new Error(`--select halving: no result for leaf ${leaves[alive[k]].node}`);
          return [r.accuracy];
        });
      }, HALVING_OPTIONS);
      const lastScore = new Map<number, number>();
      for (const r of res.rounds) r.candidates.forEach((cand, k) => lastScore.set(cand, r.scores[k]));
      return {
        node: leaves[res.winner].node, genotype: leaves[res.winner].genotype, selectedBy: 'halving', oracle: false,
        scores: leaves.map((l, i) => ({ node: l.node, genotype: l.genotype, score: lastScore.get(i) ?? NaN })),
        halving: { rounds: res.rounds.map((r) => ({ round: r.round, epochs: r.endEpoch * c.halvingEpochs, candidates: r.candidates.map((i) => leaves[i].node), scores: r.scores, kept: r.kept.map((i) => leaves[i].node) })) },
      };
    }
  }
}

function genotypeTrainer(c: SearchConfig, o: RunSearchOptions): GenotypeTrainer {
  return o.genotypeTrainer ?? localGenotypeTrainer(c, o.backend, o.data, o.testSet, o.onProgress);
}

/**
 * The space's own successive-halving schedule (DARTS: GM's successive_halving.py): every leaf genotype
 * trains once under the space's evaluation protocol on a cosine of the protocol's horizon, validated
 * after every epoch, paused at each phase end; losers stop there, survivors continue.
 */
async function referenceHalving(c: SearchConfig, o: RunSearchOptions, leaves: LeafResult[], space: SearchSpace): Promise<FinalPick> {
  const protocol = space.halvingProtocol!(c.halvingEpochs);
  const ev = space.evalProtocol?.(c.preset, o.data.imageShape, { C: c.channels, N: c.cells });
  const val = validationData(c, o.data);
  const batchSize = ev?.hyper.batchSize ?? c.batchSize;
  const stepsPerEpoch = c.stepsPerEpoch ?? Math.ceil(o.data.split.weights.length / batchSize);
  type Run = { curve: number[]; target: number; arrived: { resolve: () => void; reject: (e: unknown) => void } | null; wake: ((to: number) => void) | null; done: Promise<void> | null };
  const runs: Run[] = leaves.map(() => ({ curve: [], target: 0, arrived: null, wake: null, done: null }));
  const start = (i: number): Promise<void> => {
    const run = runs[i]!;
    const seed = hashSeed(c.seed, 0x4a1f, leaves[i]!.node);
    return trainStandalone({
      backend: o.backend, space,
      network: { genotype: space.parseGenotype(leaves[i]!.genotype), C: ev?.channels ?? c.channels, N: ev?.cells ?? c.cells, inputChannels: o.data.imageShape[0], numClasses: o.data.numClasses },
      seed, imageShape: o.data.imageShape,
      train: new BatchSampler(o.data.train, { batchSize, seed, sampling: 'independent', augment: o.data.augment ?? true, indices: o.data.split.weights }),
      stepsPerEpoch,
      hyper: { ...(ev?.hyper ?? { batchSize, lr: 0.1, lrMin: 0 }), epochs: protocol.horizon },
      evaluate: val, evalEvery: 1,
      afterEpoch: async (e) => {
        run.curve.push(e.eval!.accuracy);
        if (run.curve.length < run.target) return true;
        // the phase end: hand control back, wait for the next target (0: stop here)
        const next = new Promise<number>((res) => { run.wake = res; });
        const a = run.arrived; run.arrived = null; a?.resolve();
        return (await next) > run.curve.length;
      },
    }).then((r) => { r.network.dispose(); const a = run.arrived; run.arrived = null; a?.resolve(); },
      (e: unknown) => { const a = run.arrived; run.arrived = null; if (a) a.reject(e); else throw e; });
  };
  const advance = (i: number, to: number): Promise<void> => new Promise<void>((resolve, reject) => {
    const run = runs[i]!;
    run.target = to;
    run.arrived = { resolve, reject };
    if (run.wake) { const w = run.wake; run.wake = null; w(to); } else if (!run.done) run.done = start(i);
    else resolve(); // finished at the horizon
  });
  try {
    const res = await runPhasedHalving(leaves.length, protocol, async (alive, to, round) => {
      for (const i of alive) {
        o.onProgress?.({ phase: 'select', node: leaves[i]!.node, label: `halving phase ${round + 1}: leaf ${leaves[i]!.node} to epoch ${to}`, done: 0, total: 1 });
        await advance(i, to);
      }
      return alive.map((i) => runs[i]!.curve);
    });
    const lastScore = new Map<number, number>();
    for (const r of res.rounds) r.candidates.forEach((cand, k) => lastScore.set(cand, r.scores[k]!));
    return {
      node: leaves[res.winner]!.node, genotype: leaves[res.winner]!.genotype, selectedBy: 'halving', oracle: false,
      scores: leaves.map((l, i) => ({ node: l.node, genotype: l.genotype, score: lastScore.get(i) ?? NaN })),
      halving: {
        protocol: { ...protocol, ...(ev ? { notes: [...ev.notes] } : {}) },
        rounds: res.rounds.map((r) => ({ round: r.round, fromEpoch: r.from, epochs: r.to, candidates: r.candidates.map((i) => leaves[i]!.node), scores: r.scores, kept: r.kept.map((i) => leaves[i]!.node), curves: r.candidates.map((i) => runs[i]!.curve.slice(0, r.to)) })),
      },
    };
  } finally {
    // stop the paused runs (their networks are disposed as their training returns)
    for (const run of runs) if (run.wake) { const w = run.wake; run.wake = null; w(0); }
    await Promise.allSettled(runs.map((r) => r.done));
  }
}

/** Parse a leaf's mask string of a run's space (for tools reading result.json). */
export function parseMask(text: string, spaceName?: string): Uint8Array { return getSpace(spaceName).parseMask(text); }
export { evalBatches };

/** min–max of a latency table's op entries (no-ops excluded), for the log */
function latencyRange(t: LatencyTable): string {
  const v = t.ops.flat().filter((x): x is number => x !== null && x > 0);
  return v.length ? `${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)}` : 'none';
}
