// The loop a kernel thread of the wasm backend runs (threads.ts), in a Node worker_thread (worker.ts)
// or a browser Web Worker (web-worker.ts): wait on its wake word and, for each run it is woken for,
// claim and run parts until none is left; until told to stop. No messages after the start: a part is
// a few doubles in shared memory, claimed with a compare-and-swap.
import type { KernelExports } from './module.js';
import { claimPart, partBlocks, runPart, SLOT_INTS, SPIN, STOP, WAKE, waitWhile } from './threads.js';

export interface KernelThreadData {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  args: SharedArrayBuffer;
  /** this thread's slot (1 ≤ index < threads) */
  index: number;
  threads: number;
}

/** Serve parts until told to stop; `report` gets the stack of a part that failed. */
export function serveParts(k: KernelExports, d: KernelThreadData, report: (stack: string) => void): void {
  const ctl = new Int32Array(d.control);
  const blocks = partBlocks(d.args, d.threads);
  const wakeAt = d.index * SLOT_INTS + WAKE, spinAt = d.index * SLOT_INTS + SPIN;
  let seen = 0;
  for (;;) {
    // Poll for the next run for the spin budget after the last one (the next kernel call of a step
    // usually comes within it), then sleep. The sleep's timeout matters in Node: a thread blocked in
    // Atomics.wait cannot be stopped, and Node joins its workers at exit; waking now and then lets a
    // pending terminate() take effect.
    waitWhile(ctl, wakeAt, seen, Atomics.load(ctl, spinAt), 50);
    const seq = Atomics.load(ctl, wakeAt);
    if (seq === STOP) return;
    seen = seq;
    for (let p = claimPart(ctl, seq); p >= 0; p = claimPart(ctl, seq)) {
      const failure = runPart(k, ctl, blocks, d.threads, p, seq);
      if (failure) report(String((failure as Error)?.stack ?? failure));
    }
  }
}
