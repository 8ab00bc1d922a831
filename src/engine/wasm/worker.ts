// A worker thread of the wasm backend (threads.ts): it instantiates the kernels over the shared
// memory, then waits on its slot of the control block and runs each task it is given (tasks.ts),
// until told to stop. No messages are exchanged after the start: a task is a few doubles in shared
// memory and one Atomics.notify each way.
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels } from './module.js';
import { runTask, TASK_ARGS } from './tasks.js';
import { SLOT_INTS, STOP } from './threads.js';

const { module, memory, control, args, index } = workerData as {
  module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer; args: SharedArrayBuffer; index: number;
};
const k = instantiateKernels(module, memory);
const ctl = new Int32Array(control);
const block = new Float64Array(args, index * TASK_ARGS * 8, TASK_ARGS);
const seqAt = index * SLOT_INTS, doneAt = seqAt + 1, errAt = seqAt + 2;
parentPort!.postMessage('ready');
let seen = 0;
for (;;) {
  Atomics.wait(ctl, seqAt, seen);
  const seq = Atomics.load(ctl, seqAt);
  if (seq === STOP) break;
  if (seq === seen) continue;
  seen = seq;
  try {
    runTask(k, block);
    Atomics.store(ctl, errAt, 0);
  } catch (err) {
    Atomics.store(ctl, errAt, 1);
    parentPort!.postMessage(String((err as Error)?.stack ?? err));
  }
  Atomics.store(ctl, doneAt, seq);
  Atomics.notify(ctl, doneAt);
}
