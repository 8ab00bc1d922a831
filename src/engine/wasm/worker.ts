// A kernel thread of the wasm backend in Node (a worker_thread; threads.ts): it instantiates the
// kernels over the shared memory, says it is ready, then serves parts (worker-loop.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { instantiateKernels } from './module.js';
import { serveParts, type KernelThreadData } from './worker-loop.js';

const d = workerData as KernelThreadData;
const k = instantiateKernels(d.module, d.memory);
parentPort!.postMessage('ready');
serveParts(k, d, (stack) => parentPort!.postMessage(stack));
