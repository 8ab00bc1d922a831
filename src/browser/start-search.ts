// startSearch: a GM-NAS search in a dedicated Web Worker, for pages that embed gmnas.
//
//   const run = startSearch({ dataset: 'fashion-mnist', preset: 'browser-quick', onProgress, onState });
//   const result = await run.result;      // the SearchResult (what result.json holds)
//   const files = await run.artifacts;    // result.json text and the final leaf's checkpoint bytes
//   run.stop();                           // ends a running search cleanly; run.result then rejects
//
// The worker is dist/gmnas.worker.js next to this bundle, found through `new URL(…, import.meta.url)`
// (a pattern Vite, webpack 5 and Parcel follow when they re-bundle); `workerUrl` points elsewhere.
// Everything the worker reports arrives through the callbacks; a bad option fails here, before any
// worker starts.
import { DATASET_NAMES, type Dataset, type DatasetName } from '../data/dataset.js';
import type { SearchConfig, SearchMethod } from '../nas/config.js';
import type { ProgressEvent } from '../nas/phases.js';
import { StopRequested, type SearchResult } from '../nas/search.js';
import { EMBEDDED_DATASET_NAME, type DataLoadProgress } from './datasets.js';
import type { LiveSearchState } from './live-state.js';
import { browserSearchConfig, type AnyPresetName } from './presets.js';
import { SPACE_NAMES, DEFAULT_SPACE_NAME } from '../spaces/registry.js';
import type { DatasetSource, DeviceChoice, FromWorker, ToWorker, WorkerArtifacts } from './protocol.js';

export interface StartSearchOptions {
  /** the search space, a name from the registry (default 'nb201'; the demo page draws NB201 cells) */
  space?: string;
  /** a loaded Dataset (e.g. from loadEmbeddedFashionMnist or datasetFromFiles; its arrays are copied
   *  to the worker), 'fashion-mnist' (the worker fetches the embedded subset) or 'synthetic' */
  dataset: Dataset | 'fashion-mnist' | 'synthetic';
  /** default 'browser-quick' (src/browser/presets.ts); the library presets 'tiny' | 'quick' | 'paper' too */
  preset?: AnyPresetName;
  method?: SearchMethod;
  seed?: number;
  /** any other config fields, applied last */
  config?: Partial<SearchConfig>;
  /** default 'auto': WebGPU when the worker gets an adapter, else the wasm backend, else the CPU backend (slow) */
  device?: DeviceChoice;
  /** where the embedded data lives when `dataset` is 'fashion-mnist' (default: next to the bundle) */
  dataUrl?: string | URL;
  /** the worker script (default: gmnas.worker.js next to this bundle) */
  workerUrl?: string | URL;
  onProgress?: (e: ProgressEvent) => void;
  /** after every saved state: the tree, splits, finished leaves and every node's epoch history */
  onState?: (s: LiveSearchState) => void;
  onLog?: (line: string) => void;
  /** the worker's device, once it is open */
  onDevice?: (d: { name: string; backend: 'webgpu' | 'wasm' | 'cpu'; note: string | null }) => void;
  /** loading progress of the embedded data ('fashion-mnist' only) */
  onDataProgress?: (p: DataLoadProgress) => void;
}

export type SearchArtifacts = WorkerArtifacts;

export interface SearchRun {
  /** the config the worker runs (every preset value resolved) */
  readonly config: SearchConfig;
  /** the search result; rejects with StopRequested after stop(), or with the worker's error */
  readonly result: Promise<SearchResult>;
  /** result.json text and the final leaf's checkpoint (safetensors bytes), when the search ends */
  readonly artifacts: Promise<SearchArtifacts>;
  /** ends the search: the worker stops at its next training step (cross-origin isolated pages) or its
   *  next saved state (others: epochs can be long on slow devices), releases its device and is
   *  terminated; after `graceMs` (default 60 s) it is terminated anyway. Resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startSearch(o: StartSearchOptions): SearchRun {
  const space = o.space ?? DEFAULT_SPACE_NAME;
  if (!SPACE_NAMES.includes(space)) throw new Error(`space: unknown search space '${space}' (available: ${SPACE_NAMES.join(', ')})`);
  let source: DatasetSource;
  let datasetName: DatasetName;
  if (o.dataset === 'fashion-mnist') {
    source = { kind: 'embedded', name: 'fashion-mnist', baseUrl: o.dataUrl ? String(o.dataUrl) : null };
    datasetName = EMBEDDED_DATASET_NAME;
  } else if (o.dataset === 'synthetic') {
    source = { kind: 'synthetic' };
    datasetName = 'synthetic';
  } else if (o.dataset && typeof o.dataset === 'object' && o.dataset.images instanceof Uint8Array) {
    if (!(DATASET_NAMES as readonly string[]).includes(o.dataset.name)) {
      throw new Error(`dataset: '${o.dataset.name}' is not a known dataset name (${DATASET_NAMES.join(', ')})`);
    }
    source = { kind: 'arrays', dataset: o.dataset };
    datasetName = o.dataset.name as DatasetName;
  } else {
    throw new Error(`dataset: expected a Dataset, 'fashion-mnist' or 'synthetic', got ${JSON.stringify(o.dataset)}`);
  }
  const preset = o.preset ?? 'browser-quick';
  const config = browserSearchConfig({
    preset, dataset: datasetName, space,
    ...(o.method ? { method: o.method } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.config ? { config: o.config } : {}),
  });
  if (typeof Worker !== 'function') throw new Error('startSearch needs Web Workers (a browser page); in Node use runSearch');

  const worker = new Worker(o.workerUrl ?? new URL('./gmnas.worker.js', import.meta.url), { type: 'module', name: 'gmnas-search' });
  let settle: { resolve: (r: SearchResult) => void; reject: (e: Error) => void } | null = null;
  let settleArtifacts: { resolve: (a: SearchArtifacts) => void; reject: (e: Error) => void } | null = null;
  const result = new Promise<SearchResult>((resolve, reject) => { settle = { resolve, reject }; });
  const artifacts = new Promise<SearchArtifacts>((resolve, reject) => { settleArtifacts = { resolve, reject }; });
  // a caller that only awaits one of the two must not see an unhandled rejection from the other
  artifacts.catch(() => {});
  let finished = false;
  let gone: (() => void) | null = null;
  const whenGone = new Promise<void>((resolve) => { gone = resolve; });
  const finish = (outcome: { result: SearchResult; artifacts: SearchArtifacts } | Error): void => {
    if (finished) return;
    finished = true;
    worker.terminate();
    gone!();
    if (outcome instanceof Error) { settle!.reject(outcome); settleArtifacts!.reject(outcome); }
    else { settle!.resolve(outcome.result); settleArtifacts!.resolve(outcome.artifacts); }
  };

  worker.addEventListener('message', (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    switch (m.type) {
      case 'device': o.onDevice?.({ name: m.name, backend: m.backend, note: m.note }); break;
      case 'data': o.onDataProgress?.(m.progress); break;
      case 'log': o.onLog?.(m.line); break;
      case 'progress': o.onProgress?.(m.event); break;
      case 'state': o.onState?.(m.state); break;
      case 'result': finish({ result: m.result, artifacts: m.artifacts }); break;
      case 'stopped': finish(new StopRequested(m.message)); break;
      case 'error': {
        const e = new Error(m.message);
        if (m.stack) e.stack = m.stack;
        finish(e);
        break;
      }
    }
  });
  worker.addEventListener('error', (ev: ErrorEvent) => {
    ev.preventDefault();
    finish(new Error(`the search worker failed: ${ev.message || 'it could not be loaded (is gmnas.worker.js served next to gmnas.browser.js?)'}`));
  });
  worker.addEventListener('messageerror', () => finish(new Error('the search worker sent a message that could not be read')));
  // a shared stop flag where the page may have one (cross-origin isolated: COOP + COEP headers)
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const stopFlag = isolated ? new SharedArrayBuffer(4) : null;
  const start: ToWorker = { type: 'start', config, source, device: o.device ?? 'auto', browserPreset: preset, stopFlag };
  worker.postMessage(start);

  return {
    config, result, artifacts,
    stop(graceMs = 60_000): Promise<void> {
      if (finished) return Promise.resolve();
      if (stopFlag) Atomics.store(new Int32Array(stopFlag), 0, 1);
      const stop: ToWorker = { type: 'stop' };
      worker.postMessage(stop);
      const timer = setTimeout(() => finish(new StopRequested(`stopped by the user (the worker did not answer within ${graceMs} ms and was terminated)`)), graceMs);
      return whenGone.then(() => clearTimeout(timer));
    },
  };
}
