// Worker threads for the wasm backend. Each worker instantiates the kernel module over the backend's
// shared WebAssembly.Memory (worker.ts); a kernel call splits its work into one task per thread
// (tasks.ts), the main thread runs the first itself and waits for the others with Atomics.wait, so
// every Backend method stays synchronous. Control: one slot of SLOT_INTS int32 per thread in a
// SharedArrayBuffer ([sequence, done, error]) and one block of TASK_ARGS doubles for the arguments.
//
// Node only (worker_threads). In a browser the backend runs on one thread: worker scripts are not part
// of the page bundle, and a page's main thread may not block in Atomics.wait.
import type { KernelExports } from './module.js';
import { runTask, TASK_ARGS } from './tasks.js';

export const SLOT_INTS = 16;
export const STOP = -1;

interface NodeWorker {
  on(ev: 'message', fn: (m: unknown) => void): void;
  once(ev: 'message' | 'error', fn: (m: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}

export class ThreadPool {
  private seq = 0;
  private readonly ctl: Int32Array;
  private readonly blocks: Float64Array[];
  private lastError = '';

  private constructor(private readonly k: KernelExports, private readonly workers: NodeWorker[],
    control: SharedArrayBuffer, args: SharedArrayBuffer) {
    this.ctl = new Int32Array(control);
    this.blocks = Array.from({ length: workers.length + 1 }, (_, i) => new Float64Array(args, i * TASK_ARGS * 8, TASK_ARGS));
    for (const w of workers) w.on('message', (m) => { if (m !== 'ready') this.lastError = String(m); });
  }

  /** Threads in all, the main one included. */
  get size(): number { return this.workers.length + 1; }

  /** A pool of `threads` (main included) over `memory`; one thread needs no workers. */
  static async create(k: KernelExports, module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number): Promise<ThreadPool> {
    const control = new SharedArrayBuffer(threads * SLOT_INTS * 4);
    const args = new SharedArrayBuffer(threads * TASK_ARGS * 8);
    const workers: NodeWorker[] = [];
    if (threads > 1) {
      // a non-literal specifier keeps bundlers for the browser from trying to resolve it
      const spec = 'node:worker_threads';
      const { Worker } = await import(/* @vite-ignore */ spec) as { Worker: new (url: URL, o: object) => NodeWorker };
      const url = new URL('./worker.js', import.meta.url);
      const started: Promise<void>[] = [];
      for (let i = 1; i < threads; i++) {
        const w = new Worker(url, { workerData: { module, memory, control, args, index: i } });
        started.push(new Promise((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', (e) => reject(new Error(`wasm backend: worker thread ${i} failed to start: ${String(e)}`)));
        }));
        workers.push(w);
      }
      try {
        await Promise.all(started);
      } catch (err) {
        await Promise.all(workers.map((w) => w.terminate()));
        throw err;
      }
      // idle workers must not keep the process alive (they wait in Atomics.wait, not on events)
      for (const w of workers) w.unref();
    }
    return new ThreadPool(k, workers, control, args);
  }

  /** Argument block of thread i, for the caller to fill before run(). */
  block(i: number): Float64Array { return this.blocks[i]; }

  /** Run the tasks in blocks [0, count): block 0 here, the others on workers; return when all are done. */
  run(count: number): void {
    if (count > this.size) throw new Error(`wasm backend: ${count} tasks for ${this.size} threads`);
    const seq = ++this.seq;
    for (let i = 1; i < count; i++) {
      Atomics.store(this.ctl, i * SLOT_INTS, seq);
      Atomics.notify(this.ctl, i * SLOT_INTS);
    }
    let failure: unknown = null;
    try {
      runTask(this.k, this.blocks[0]);
    } catch (err) {
      failure = err;
    }
    let workerFailed = false;
    for (let i = 1; i < count; i++) {
      const at = i * SLOT_INTS + 1;
      for (;;) {
        const done = Atomics.load(this.ctl, at);
        if (done === seq) break;
        Atomics.wait(this.ctl, at, done, 1000);
      }
      if (Atomics.load(this.ctl, i * SLOT_INTS + 2)) workerFailed = true;
    }
    if (failure) throw failure;
    if (workerFailed) throw new Error(`wasm backend: a worker thread's kernel failed${this.lastError ? `: ${this.lastError}` : ''}`);
  }

  dispose(): void {
    for (let i = 1; i < this.size; i++) {
      Atomics.store(this.ctl, i * SLOT_INTS, STOP);
      Atomics.notify(this.ctl, i * SLOT_INTS);
    }
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}
