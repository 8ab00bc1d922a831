// The search worker: the entry point of dist/gmnas.worker.js, started by startSearch
// (src/browser/start-search.ts) as a dedicated module worker. It opens its own device (WebGPU is
// available in workers as navigator.gpu), gets or fetches the training set, runs the search with a
// BrowserRunStore, and reports back: device, data loading progress, log lines, progress events, the
// live state after every saved state, and at the end the result with result.json and the final
// leaf's checkpoint. The page's main thread does none of the training, so it keeps drawing and
// answering input.
//
// Stopping: the page sets a shared flag (cross-origin isolated pages) and sends {type:'stop'}; the
// flag is read at every training step, the message between epochs (a training epoch can run without
// giving the event loop a turn). The next check throws StopRequested, the search unwinds through its `finally` blocks (every method is disposed), the
// device is released and {type:'stopped'} is posted. The page then ends the worker.
import { openDevice } from './device.js';
import { BrowserRunStore } from './store.js';
import { liveStateOf } from './live-state.js';
import { yieldToEventLoop } from './yield.js';
import { loadEmbeddedFashionMnist, padToMultiple } from './datasets.js';
import type { FromWorker, ToWorker } from './protocol.js';
import { scaledAugmentation } from './presets.js';
import { makeDataset, takeFirst, type Dataset } from '../data/dataset.js';
import { generateSynthetic } from '../data/synthetic.js';
import { prepareSearchData } from '../nas/phases.js';
import { runSearch, StopRequested, type RunState } from '../nas/search.js';
import { checkpointName } from '../nas/phases.js';

interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<ToWorker>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** NB201 networks halve height and width twice (two stride-2 reduction blocks) */
const REDUCTION_FACTOR = 4;

let stopRequested = false;
let stopFlag: Int32Array | null = null;
let started = false;
const stopIfAsked = (): void => {
  if (stopRequested || (stopFlag !== null && Atomics.load(stopFlag, 0) !== 0)) throw new StopRequested('stopped by the user');
};

scope.addEventListener('message', (ev) => {
  const m = ev.data;
  if (m.type === 'stop') { stopRequested = true; return; }
  if (m.type === 'start') {
    if (started) { post({ type: 'error', message: 'this worker already ran a search; start a new one', stack: null }); return; }
    started = true;
    stopFlag = m.stopFlag ? new Int32Array(m.stopFlag) : null;
    run(m).catch((e: unknown) => {
      const err = e as Error;
      post({ type: 'error', message: err?.message ?? String(e), stack: err?.stack ?? null });
    });
  }
});

async function run(m: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const config = m.config;
  const device = await openDevice({ kind: m.device });
  const kind = device.backend.kind;
  post({ type: 'device', name: device.name, backend: kind === 'webgpu' || kind === 'wasm' ? kind : 'cpu', note: device.note });
  try {
    let train: Dataset;
    if (m.source.kind === 'arrays') {
      train = makeDataset(m.source.dataset); // the structured clone lost the freeze; check it again
    } else if (m.source.kind === 'embedded') {
      train = await loadEmbeddedFashionMnist({
        ...(m.source.baseUrl ? { baseUrl: m.source.baseUrl } : {}),
        onProgress: (progress) => post({ type: 'data', progress }),
      });
    } else {
      train = generateSynthetic({ split: 'train', size: config.trainLimit ?? config.syntheticSize ?? 5000, seed: config.seed });
    }
    if (config.trainLimit !== null) train = takeFirst(train, config.trainLimit);
    // the network halves the resolution twice after the search's own ÷downsample
    const unpadded = `${train.height}×${train.width}`;
    train = padToMultiple(train, REDUCTION_FACTOR * config.downsample);
    if (`${train.height}×${train.width}` !== unpadded) post({ type: 'log', line: `${train.name}: ${unpadded} images padded with zeros to ${train.height}×${train.width}` });
    post({ type: 'log', line: `preset ${m.browserPreset}: ${train.size} ${train.name} images ${train.height}×${train.width}` +
      ` ÷${config.downsample}, C=${config.channels} N=${config.cells}, batch ${config.batchSize}, splits at epochs ${config.splitEpochs.join(', ')}, ${config.totalEpochs} epochs, seed ${config.seed}` });
    if (stopRequested || (stopFlag !== null && Atomics.load(stopFlag, 0) !== 0)) { post({ type: 'stopped', message: 'stopped by the user' }); return; }
    const augment = scaledAugmentation(train.name, config.downsample);
    const data = { ...prepareSearchData(config, train), ...(augment ? { augment } : {}) };
    const store = new BrowserRunStore({
      onStateSaved: async (state) => {
        post({ type: 'state', state: liveStateOf(state as RunState) });
        // let a 'stop' message in (the CPU backend never yields on its own)
        await yieldToEventLoop();
        stopIfAsked();
      },
    });
    let result;
    try {
      result = await runSearch({
        config, backend: device.backend, data, store, deviceName: device.name,
        onLog: (line) => post({ type: 'log', line }),
        onProgress: (event) => { post({ type: 'progress', event }); stopIfAsked(); },
      });
    } catch (e) {
      // the search has unwound (its methods are disposed): answer now, the device goes below
      if (e instanceof StopRequested) { post({ type: 'stopped', message: e.message }); return; }
      throw e;
    }
    const name = checkpointName(result.final.node);
    const checkpoint = store.checkpointBytes(name);
    if (!checkpoint) throw new Error(`the final leaf's checkpoint '${name}' is missing from the run store`);
    const resultJson = store.texts.get('result.json') ?? JSON.stringify(result, null, 1);
    post({ type: 'result', result, artifacts: { resultJson, checkpoint, checkpointName: `${name}.safetensors` } }, [checkpoint.buffer as ArrayBuffer]);
  } finally {
    device.backend.dispose();
  }
}
