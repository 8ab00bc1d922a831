// The jobs a queued search puts on BullMQ and the checks a worker makes before touching any of them.
// A Redis shared by several machines can be written by anything that reaches it, so a worker treats
// every job as untrusted input: a known kind, a known version, every field of the expected type and in
// range, enums from their lists, and every path inside the worker's store. Anything else is rejected
// with a reason (logged by the worker, and the job's failure reason on the coordinator) before a file
// is read or a network is built.
//
//   train-leaf      train one leaf of the partition tree from its checkpoint to the last epoch, derive
//                   its genotype and score it (runLeafJob); result: LeafResult
//   train-genotype  one stand-alone training of a genotype (src/nas/genotype-training.ts): a successive-
//                   halving round's candidate, or the final pick's retraining; result: GenotypeTaskResult
//   rank-leaf       score genotypes with one leaf checkpoint of a finished run (src/nas/rank.ts
//                   rankLeaves); result: LeafRankOutput
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { defaultSearchConfig, validateSearchConfig, type SearchConfig } from '../nas/config.js';
import type { NodeProgress } from '../nas/phases.js';
import type { GenotypeTask } from '../nas/genotype-training.js';
import type { LeafRankSettings } from '../nas/rank.js';
import type { SearchResult } from '../nas/search.js';
import { getSpace, type Genotype, type OpMask } from '../spaces/registry.js';

export const JOB_KINDS = ['train-leaf', 'train-genotype', 'rank-leaf'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_VERSION = 1;

/** Where a job's checkpoints are: `dir` (relative, inside the store) under the store root. */
export interface JobStore {
  /** the coordinator's absolute path of the store (used by workers started without --store) */
  root: string;
  /** the run's checkpoint folder relative to the root ('.' when the store is the run folder) */
  dir: string;
}

export interface TrainLeafJob {
  v: typeof JOB_VERSION;
  store: JobStore;
  config: SearchConfig;
  node: { id: number; mask: string; fromEpoch: number; toEpoch: number; restartedAt: number | null };
  progress: NodeProgress;
  /** test hook (--inject-leaf-failure): the job throws on every try */
  fail?: boolean;
}

export interface TrainGenotypeJob {
  v: typeof JOB_VERSION;
  store: JobStore;
  config: SearchConfig;
  task: GenotypeTask;
}

export interface RankLeafJob {
  v: typeof JOB_VERSION;
  store: JobStore;
  config: SearchConfig;
  /** the leaf: its checkpoint is checkpoints/node-<id>.safetensors in the job's folder of the store */
  node: { id: number; mask: string };
  /** genotypes the leaf's mask admits, in the space's text format, each once */
  archs: string[];
  rank: LeafRankSettings;
  /** the run's result.dataset: the worker's data must match it (null: not checked) */
  dataset: NonNullable<SearchResult['dataset']> | null;
}

export type JobData = TrainLeafJob | TrainGenotypeJob | RankLeafJob;

export class JobRejected extends Error {}

const LIMITS = {
  epochs: 10_000, node: 1_000_000, channels: 1024, cells: 64, batch: 65_536, steps: 1_000_000,
  /** genotypes per rank-leaf job, characters per genotype, rank batches, halving rounds, images */
  archs: 100_000, genotypeChars: 10_000, rankBatches: 1_000_000, rounds: 64, images: 100_000_000,
};

/** The configuration a job carries: the bench table is the coordinator's alone (reports and the oracle
 *  pick), so workers never get a path to it. */
export function jobConfig(c: SearchConfig): SearchConfig {
  return { ...c, bench: null, select: c.select === 'bench' ? 'val-acc' : c.select };
}

/** Path `p` (absolute) lies inside `root` (absolute). */
export function isInside(root: string, p: string): boolean {
  const rel = relative(resolve(root), resolve(p));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

function plainObject(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new JobRejected(`${what} is not an object`);
  return v as Record<string, unknown>;
}

function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new JobRejected(`${what} ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
  return v;
}

/** Every config field has the type of the default's; ranges and enums via validateSearchConfig plus
 *  upper bounds a worker should not accept from a stranger (a huge network is a denial of service). */
function checkConfig(v: unknown, storeRoot: string): SearchConfig {
  const c = plainObject(v, 'config');
  const ref = defaultSearchConfig() as unknown as Record<string, unknown>;
  const nullable = new Set(['dataDir', 'trainLimit', 'syntheticSize', 'lr', 'stepsPerEpoch', 'groupSizes', 'valBatches', 'bench']);
  for (const key of Object.keys(c)) if (!(key in ref)) throw new JobRejected(`config.${key} is not a configuration field`);
  for (const [key, def] of Object.entries(ref)) {
    const x = c[key];
    if (x === undefined) throw new JobRejected(`config.${key} is missing`);
    if (x === null && nullable.has(key)) continue;
    const want = Array.isArray(def) || key === 'groupSizes' ? 'array' : def === null ? (key === 'dataDir' || key === 'bench' ? 'string' : 'number') : typeof def;
    const got = Array.isArray(x) ? 'array' : typeof x;
    if (got !== want) throw new JobRejected(`config.${key} is a ${got}, expected a ${want}`);
    if (want === 'array' && !(x as unknown[]).every((e) => typeof e === 'number')) throw new JobRejected(`config.${key} must hold numbers`);
    if (want === 'number' && !Number.isFinite(x)) throw new JobRejected(`config.${key} is not finite`);
  }
  const cfg = c as unknown as SearchConfig;
  try {
    validateSearchConfig(cfg);
  } catch (e) {
    throw new JobRejected(`config: ${(e as Error).message}`);
  }
  int(cfg.seed, 'config.seed', 0, 0xffffffff);
  int(cfg.channels, 'config.channels', 1, LIMITS.channels);
  int(cfg.cells, 'config.cells', 1, LIMITS.cells);
  int(cfg.batchSize, 'config.batchSize', 1, LIMITS.batch);
  int(cfg.totalEpochs, 'config.totalEpochs', 1, LIMITS.epochs);
  if (cfg.stepsPerEpoch !== null) int(cfg.stepsPerEpoch, 'config.stepsPerEpoch', 1, LIMITS.steps);
  if (cfg.bench !== null) throw new JobRejected('config.bench must be null (workers never read the benchmark table)');
  if (cfg.dataDir !== null && !(isAbsolute(cfg.dataDir) && isInside(storeRoot, cfg.dataDir))) {
    throw new JobRejected(`config.dataDir ${cfg.dataDir} is outside the store ${storeRoot}`);
  }
  return cfg;
}

/** The store root a job may use on this worker: its --store, else the job's (absolute) root. */
function checkStore(v: unknown, workerStore: string | null): { root: string; dir: string; checkpointRoot: string } {
  const s = plainObject(v, 'store');
  if (typeof s.root !== 'string' || typeof s.dir !== 'string') throw new JobRejected('store.root and store.dir must be strings');
  if (s.dir.includes('\0') || s.root.includes('\0')) throw new JobRejected('store paths must not contain NUL');
  if (!isAbsolute(s.root)) throw new JobRejected(`store.root ${s.root} is not an absolute path`);
  const root = workerStore ?? s.root;
  if (isAbsolute(s.dir) || s.dir.split(/[\\/]/).includes('..')) throw new JobRejected(`store.dir ${s.dir} leaves the store (absolute, or a '..' component)`);
  const checkpointRoot = resolve(root, s.dir);
  if (!isInside(root, checkpointRoot)) throw new JobRejected(`store.dir ${s.dir} resolves outside the store ${root}`);
  return { root, dir: s.dir, checkpointRoot };
}

export interface ValidJob {
  kind: JobKind;
  data: JobData;
  /** absolute folder holding the run's checkpoints/ on this worker */
  checkpointRoot: string;
  storeRoot: string;
}

/**
 * Check a job from the queue. `workerStore` is the worker's --store (absolute), or null when it was
 * started without one (it then uses the coordinator's path, the same on every machine).
 * Throws JobRejected with the reason.
 */
export function validateJob(name: unknown, data: unknown, workerStore: string | null): ValidJob {
  if (typeof name !== 'string' || !(JOB_KINDS as readonly string[]).includes(name)) {
    throw new JobRejected(`unknown job kind ${JSON.stringify(name)} (known: ${JOB_KINDS.join(', ')})`);
  }
  const d = plainObject(data, 'job data');
  if (d.v !== JOB_VERSION) throw new JobRejected(`job version ${JSON.stringify(d.v)} is not ${JOB_VERSION} (coordinator and worker run different gmnas versions?)`);
  const store = checkStore(d.store, workerStore);
  const config = checkConfig(d.config, store.root);
  const kind = name as JobKind;
  const allowed = new Set(['v', 'store', 'config', ...KIND_FIELDS[kind]]);
  for (const k of Object.keys(d)) if (!allowed.has(k)) throw new JobRejected(`field '${k}' is not part of a ${kind} job`);
  if (kind === 'train-leaf') checkTrainLeaf(d, config);
  else if (kind === 'train-genotype') checkTrainGenotype(d, config);
  else checkRankLeaf(d, config);
  return { kind, data: d as unknown as JobData, checkpointRoot: store.checkpointRoot, storeRoot: store.root };
}

/** Fields of each kind besides v, store and config. */
const KIND_FIELDS: Record<JobKind, readonly string[]> = {
  'train-leaf': ['node', 'progress', 'fail'],
  'train-genotype': ['task'],
  'rank-leaf': ['node', 'archs', 'rank', 'dataset'],
};

function checkMask(v: unknown, config: SearchConfig, what: string): OpMask {
  if (typeof v !== 'string') throw new JobRejected(`${what} is not a string`);
  try { return getSpace(config.space).parseMask(v); } catch (e) { throw new JobRejected(`${what}: ${(e as Error).message}`); }
}

function checkGenotype(v: unknown, config: SearchConfig, what: string): Genotype {
  if (typeof v !== 'string' || v.length > LIMITS.genotypeChars) throw new JobRejected(`${what} is not a string of at most ${LIMITS.genotypeChars} characters`);
  try { return getSpace(config.space).parseGenotype(v); } catch (e) { throw new JobRejected(`${what}: ${(e as Error).message}`); }
}

function checkTrainLeaf(d: Record<string, unknown>, config: SearchConfig): void {
  const n = plainObject(d.node, 'node');
  for (const k of Object.keys(n)) if (!['id', 'mask', 'fromEpoch', 'toEpoch', 'restartedAt'].includes(k)) throw new JobRejected(`field 'node.${k}' is not part of a train-leaf job`);
  int(n.id, 'node.id', 0, LIMITS.node);
  checkMask(n.mask, config, 'node.mask');
  const from = int(n.fromEpoch, 'node.fromEpoch', 0, config.totalEpochs);
  int(n.toEpoch, 'node.toEpoch', from, config.totalEpochs);
  if (n.restartedAt !== null) int(n.restartedAt, 'node.restartedAt', 0, config.totalEpochs);
  const p = plainObject(d.progress, 'progress');
  int(p.epochsDone, 'progress.epochsDone', 0, config.totalEpochs);
  if (!Array.isArray(p.history) || p.history.length > config.totalEpochs) throw new JobRejected('progress.history is not an array of at most totalEpochs records');
  for (const r of p.history) plainObject(r, 'progress.history[]');
  if (d.fail !== undefined && typeof d.fail !== 'boolean') throw new JobRejected('fail is not a boolean');
}

function checkTrainGenotype(d: Record<string, unknown>, config: SearchConfig): void {
  const t = plainObject(d.task, 'task');
  const fields = t.purpose === 'halving' ? ['purpose', 'node', 'round', 'genotype', 'epochs', 'seed']
    : t.purpose === 'retrain' ? ['purpose', 'node', 'genotype', 'epochs']
      : null;
  if (!fields) throw new JobRejected(`task.purpose ${JSON.stringify(t.purpose)} is not one of halving, retrain`);
  for (const k of Object.keys(t)) if (!fields.includes(k)) throw new JobRejected(`field 'task.${k}' is not part of a ${t.purpose} task`);
  int(t.node, 'task.node', 0, LIMITS.node);
  checkGenotype(t.genotype, config, 'task.genotype');
  int(t.epochs, 'task.epochs', 1, LIMITS.epochs);
  if (t.purpose === 'halving') {
    int(t.round, 'task.round', 0, LIMITS.rounds);
    int(t.seed, 'task.seed', 0, 0xffffffff);
  }
}

function checkRankLeaf(d: Record<string, unknown>, config: SearchConfig): void {
  const n = plainObject(d.node, 'node');
  for (const k of Object.keys(n)) if (!['id', 'mask'].includes(k)) throw new JobRejected(`field 'node.${k}' is not part of a rank-leaf job`);
  int(n.id, 'node.id', 0, LIMITS.node);
  const mask = checkMask(n.mask, config, 'node.mask');
  if (!Array.isArray(d.archs) || d.archs.length < 1 || d.archs.length > LIMITS.archs) throw new JobRejected(`archs is not an array of 1 to ${LIMITS.archs} genotypes`);
  const space = getSpace(config.space);
  const seen = new Set<string>();
  d.archs.forEach((a, k) => {
    const g = checkGenotype(a, config, `archs[${k}]`);
    if (!space.maskAdmits(mask, g)) throw new JobRejected(`archs[${k}] ${a} is not admitted by node.mask ${n.mask as string}`);
    if (seen.has(a as string)) throw new JobRejected(`archs[${k}] ${a} is listed twice`);
    seen.add(a as string);
  });
  const r = plainObject(d.rank, 'rank');
  for (const k of Object.keys(r)) if (!['valBatches', 'bnRecalibrate'].includes(k)) throw new JobRejected(`field 'rank.${k}' is not part of a rank-leaf job`);
  if (r.valBatches !== null) int(r.valBatches, 'rank.valBatches', 1, LIMITS.rankBatches);
  int(r.bnRecalibrate, 'rank.bnRecalibrate', 0, LIMITS.rankBatches);
  if (d.dataset !== null) {
    const ds = plainObject(d.dataset, 'dataset');
    if (typeof ds.name !== 'string') throw new JobRejected('dataset.name is not a string');
    for (const k of ['trainImages', 'weightsHalf', 'archHalf', 'classes'] as const) int(ds[k], `dataset.${k}`, 0, LIMITS.images);
    if (!Array.isArray(ds.imageShape) || ds.imageShape.length !== 3) throw new JobRejected('dataset.imageShape is not [channels, height, width]');
    ds.imageShape.forEach((x, k) => int(x, `dataset.imageShape[${k}]`, 1, 65_536));
  }
}
