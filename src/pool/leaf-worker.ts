// A piscina worker: trains leaves of a search (runLeafJob) on its own device. The backend and the
// data are made once per worker thread and reused by every job it gets. Progress and every saved
// epoch go to the main thread through the job's MessagePort; the main thread alone writes state.json.
import type { MessagePort } from 'node:worker_threads';
import { createBackend, type BackendKind } from '../engine/select-backend.js';
import type { Backend } from '../engine/index.js';
import { initGmnasWasm } from '../nas/cut.js';
import type { SearchConfig } from '../nas/config.js';
import { runLeafJob, type NodeProgress, type NodeSchedule, type LeafResult, type SearchData } from '../nas/phases.js';
import { loadSearchData } from '../nas/search-data.js';
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
  /** test hook: make this job fail (exercises retry and failure reporting) */
  failNodes?: number[];
  /** queued runs: the folder holding checkpoints/ in the shared store (SHA-256-checked); else `location` */
  checkpointRoot?: string;
}

export type LeafMessage = { type: 'progress'; event: unknown } | { type: 'epoch'; progress: NodeProgress };

let backend: Promise<Backend> | null = null;
let dataKey = '';
let data: SearchData | null = null;

export default async function trainLeaf(task: LeafTask): Promise<LeafResult> {
  try {
    if (task.failNodes?.includes(task.node.id)) throw new Error(`injected failure of leaf ${task.node.id} (test hook)`);
    // the main thread already reported the device and any unreadable autotune cache
    backend ??= createBackend(task.device, { log: () => {}, ...autotuneBackendOptions(task.autotune) });
    const be = await backend;
    await initGmnasWasm();
    const key = JSON.stringify([task.config.dataset, task.config.dataDir, task.config.trainLimit, task.config.syntheticSize, task.config.downsample, task.config.resolution, task.config.batchSize]);
    if (!data || key !== dataKey) { data = loadSearchData(task.config); dataKey = key; }
    return await runLeafJob(task.config, be, data, task.checkpointRoot ? new SharedStore(null, task.checkpointRoot) : new FileStore(task.location), task.node, task.progress, {
      onEpochSaved: async (p) => task.port.postMessage({ type: 'epoch', progress: p } satisfies LeafMessage),
      onProgress: (event) => task.port.postMessage({ type: 'progress', event } satisfies LeafMessage),
    });
  } finally {
    task.port.close();
  }
}
