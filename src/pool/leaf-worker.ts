// A piscina worker: trains leaves of a search (runLeafJob) on its own device. The backend and the
// data are made once per worker thread and reused by every job it gets. Progress and every saved
// epoch go to the main thread through the job's MessagePort; the main thread alone writes state.json.
// A queue worker's other job kinds run on the same threads (piscina's `name`: trainGenotype, rankLeaf),
// sharing the backend and the data.
import type { MessagePort } from 'node:worker_threads';
import { createBackend, type BackendKind } from '../engine/select-backend.js';
import type { Backend } from '../engine/index.js';
import { initGmnasWasm } from '../nas/cut.js';
import type { SearchConfig } from '../nas/config.js';
import { runLeafJob, type NodeProgress, type NodeSchedule, type LeafResult, type SearchData } from '../nas/phases.js';
import { loadSearchData, loadSearchTestSet } from '../nas/search-data.js';
import { runGenotypeTask, type GenotypeTask, type GenotypeTaskResult } from '../nas/genotype-training.js';
import { rankLeaves, type LeafRankOutput, type LeafRankSettings } from '../nas/rank.js';
import type { SearchResult } from '../nas/search.js';
import type { Dataset } from '../data/dataset.js';
import { getSpace } from '../spaces/registry.js';
import { FileStore } from '../nas/file-store.js';
import { SharedStore } from './shared-store.js';
import { autotuneBackendOptions } from '../io/autotune-cache.js';

export interface LeafTask {
  config: SearchConfig;
  location: string;
  device: BackendKind;
  /** autotune the worker's kernels (choices shared with the other workers through the cache file) */
  autotune: boolean;
  node: NodeSchedule;
  progress: NodeProgress;
  port: MessagePort;
  /** wasm backend threads of this worker (leaf-pool.ts: the pool's threads shared out between its workers) */
  threads?: number;
  /** test hook: make this job fail (exercises retry and failure reporting) */
  failNodes?: number[];
  /** queued runs: the folder holding checkpoints/ in the shared store (SHA-256-checked); else `location` */
  checkpointRoot?: string;
}

export type LeafMessage = { type: 'progress'; event: unknown } | { type: 'epoch'; progress: NodeProgress };

let backend: Promise<Backend> | null = null;
let dataKey = '';
let data: SearchData | null = null;
let testKey = '';
let testSet: Dataset | null = null;

function threadBackend(device: BackendKind, autotune: boolean, threads?: number): Promise<Backend> {
  // the main thread already reported the device and any unreadable autotune cache
  backend ??= createBackend(device, { log: () => {}, ...(threads ? { threads } : {}), ...autotuneBackendOptions(autotune) });
  return backend;
}

function threadData(c: SearchConfig): SearchData {
  const key = JSON.stringify([c.dataset, c.dataDir, c.trainLimit, c.syntheticSize, c.downsample, c.resolution, c.batchSize]);
  if (!data || key !== dataKey) { data = loadSearchData(c); dataKey = key; }
  return data;
}

function threadTestSet(c: SearchConfig): Dataset {
  const key = JSON.stringify([c.dataset, c.dataDir]);
  if (!testSet || key !== testKey) { testSet = loadSearchTestSet(c); testKey = key; }
  return testSet;
}

export default async function trainLeaf(task: LeafTask): Promise<LeafResult> {
  try {
    if (task.failNodes?.includes(task.node.id)) throw new Error(`injected failure of leaf ${task.node.id} (test hook)`);
    const be = await threadBackend(task.device, task.autotune, task.threads);
    await initGmnasWasm();
    const data = threadData(task.config);
    return await runLeafJob(task.config, be, data, task.checkpointRoot ? new SharedStore(null, task.checkpointRoot) : new FileStore(task.location), task.node, task.progress, {
      onEpochSaved: async (p) => task.port.postMessage({ type: 'epoch', progress: p } satisfies LeafMessage),
      onProgress: (event) => task.port.postMessage({ type: 'progress', event } satisfies LeafMessage),
    });
  } finally {
    task.port.close();
  }
}

/** A queue worker's train-genotype job: one halving candidate's training or the final retraining. */
export interface GenotypeThreadTask {
  config: SearchConfig;
  device: BackendKind;
  autotune: boolean;
  task: GenotypeTask;
  /** progress events (ProgressEvent) go here */
  port: MessagePort;
}

export async function trainGenotype(t: GenotypeThreadTask): Promise<GenotypeTaskResult> {
  try {
    const be = await threadBackend(t.device, t.autotune);
    const test = t.task.purpose === 'retrain' ? threadTestSet(t.config) : undefined;
    return await runGenotypeTask(t.config, be, threadData(t.config), test, t.task,
      (event) => t.port.postMessage({ type: 'progress', event } satisfies LeafMessage));
  } finally {
    t.port.close();
  }
}

/** A queue worker's rank-leaf job: one leaf checkpoint scores its genotypes. */
export interface RankThreadTask {
  config: SearchConfig;
  device: BackendKind;
  autotune: boolean;
  /** the leaf checkpoint (inside the store; its SHA-256 is required and checked) */
  checkpoint: string;
  node: number;
  mask: string;
  archs: string[];
  rank: LeafRankSettings;
  dataset: SearchResult['dataset'] | null;
  /** one { type: 'progress', event } per scored genotype */
  port: MessagePort;
}

export async function rankLeaf(t: RankThreadTask): Promise<LeafRankOutput> {
  try {
    const be = await threadBackend(t.device, t.autotune);
    const space = getSpace(t.config.space);
    const leaf = { node: t.node, mask: space.parseMask(t.mask), checkpoint: t.checkpoint, archs: t.archs.map((arch) => ({ arch, genotype: space.parseGenotype(arch) })) };
    let done = 0;
    const [out] = await rankLeaves(t.config, be, threadData(t.config), [leaf], t.rank, {
      expected: t.dataset, requireChecksum: true,
      onScored: () => t.port.postMessage({ type: 'progress', event: { phase: 'rank', node: t.node, label: `rank leaf ${t.node}`, done: ++done, total: t.archs.length } } satisfies LeafMessage),
    });
    return out;
  } finally {
    t.port.close();
  }
}
