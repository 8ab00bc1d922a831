// A kernel thread of the wasm backend in a browser (a Web Worker started by threads.ts from a
// dedicated worker — the search worker — of a cross-origin isolated page): its first message carries
// the compiled kernel module, the shared memory and the control buffers; it instantiates the kernels,
// says it is ready, then serves parts (worker-loop.ts) and never returns to its event loop.
// Built alone into dist/gmnas.kernel-worker.js (scripts/build.mjs), next to the page's bundles.
import { instantiateKernels } from './module.js';
import { serveParts, type KernelThreadData } from './worker-loop.js';

const scope = globalThis as unknown as { onmessage: ((e: { data: KernelThreadData }) => void) | null; postMessage(m: unknown): void };
scope.onmessage = (e) => {
  scope.onmessage = null;
  const d = e.data;
  const k = instantiateKernels(d.module, d.memory);
  scope.postMessage('ready');
  serveParts(k, d, (stack) => scope.postMessage(stack));
};
