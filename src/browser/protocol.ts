// The messages between a page (src/browser/start-search.ts) and its search worker (src/browser/worker.ts).
// Everything is structured-clone data; typed arrays are transferred where the sender no longer needs them.
import type { Dataset } from '../data/dataset.js';
import type { SearchConfig } from '../nas/config.js';
import type { ProgressEvent } from '../nas/phases.js';
import type { SearchResult } from '../nas/search.js';
import type { DataLoadProgress } from './datasets.js';
import type { LiveSearchState } from './live-state.js';

export type DeviceChoice = 'auto' | 'webgpu' | 'wasm' | 'cpu';

/** The training set: the arrays themselves, the embedded Fashion-MNIST (the worker fetches it), or the
 *  built-in synthetic set (the worker generates it). */
export type DatasetSource =
  | { kind: 'arrays'; dataset: Dataset }
  | { kind: 'embedded'; name: 'fashion-mnist'; baseUrl: string | null }
  | { kind: 'synthetic' };

export type ToWorker =
  | { type: 'start'; config: SearchConfig; source: DatasetSource; device: DeviceChoice; browserPreset: string;
      /** Int32Array view's buffer: the page sets element 0 to 1 to stop. Read synchronously at every
       *  training step, so a stop lands within a step even while the worker's event loop is busy;
       *  only in cross-origin isolated pages (null elsewhere: the 'stop' message, read between epochs) */
      stopFlag: SharedArrayBuffer | null }
  | { type: 'stop' };

export interface WorkerArtifacts {
  /** result.json as the CLI writes it */
  resultJson: string;
  /** the final leaf's checkpoint (FileStore's checkpoints/node-<id>.safetensors bytes) */
  checkpoint: Uint8Array;
  checkpointName: string;
}

export type FromWorker =
  | { type: 'device'; name: string; backend: 'webgpu' | 'wasm' | 'cpu'; note: string | null }
  | { type: 'data'; progress: DataLoadProgress }
  | { type: 'log'; line: string }
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'state'; state: LiveSearchState }
  | { type: 'result'; result: SearchResult; artifacts: WorkerArtifacts }
  | { type: 'stopped'; message: string }
  | { type: 'error'; message: string; stack: string | null };
