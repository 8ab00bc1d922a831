// A worker thread of the wasm backend (threads.ts): it instantiates the kernels over the shared
// memory, then waits on its wake word and, for each run it is woken for, claims and runs parts until
// none is left, until told to stop. No messages are exchanged after the start: a part is a few doubles
// in shared memory, claimed with a compare-and-swap.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels } from './module.js';
import { claimPart, partBlocks, runPart, SLOT_INTS, SPIN, STOP, WAKE, waitWhile } from './threads.js';

const { module, memory, control, args, index, threads } = workerData as {
  module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; args: SharedArrayBuffer;
  index: number; threads: number;
};
const k = instantiateKernels(module, memory);
const ctl = new Int32Array(control);
const blocks = partBlocks(args, threads);
const wakeAt = index * SLOT_INTS + WAKE, spinAt = index * SLOT_INTS + SPIN;
parentPort!.postMessage('ready');
let seen = 0;
for (;;) {
  // Poll for the next run for the spin budget after the last one (the next kernel call of a step
  // usually comes within it), then sleep. The sleep's timeout matters: a thread blocked in
  // Atomics.wait cannot be stopped, and Node joins its workers at exit; waking now and then lets a
  // pending terminate() take effect.
  waitWhile(ctl, wakeAt, seen, Atomics.load(ctl, spinAt), 50);
  const seq = Atomics.load(ctl, wakeAt);
  if (seq === STOP) break;
  seen = seq;
  for (let p = claimPart(ctl, seq); p >= 0; p = claimPart(ctl, seq)) {
    const failure = runPart(k, ctl, blocks, threads, p, seq);
    if (failure) parentPort!.postMessage(String((failure as Error)?.stack ?? failure));
  }
}
