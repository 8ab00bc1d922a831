// Worker threads for the wasm backend. Each worker instantiates the kernel module over the backend's
// shared WebAssembly.Memory (worker.ts). A kernel call splits its work into at most one part per
// thread (tasks.ts: an argument block of doubles per part), wakes the workers and runs parts itself
// until none is left, then waits for the parts workers took; every Backend method stays synchronous.
//
// Parts are claimed, not assigned: the caller and the workers take the next part number with a
// compare-and-swap on one shared word. A worker that wakes late (descheduled on a loaded machine, or a
// sleeping vCPU on an idle VM: waking one costs tens to hundreds of µs) finds the parts already done by
// the caller, so two threads are never much slower than one; the caller waits only for parts a worker
// has started. A part's result does not depend on which thread ran it (per-part scratch and partial
// sums), so results are the same whoever wins.
//
// Spin, then sleep: a small NB201 step is ~950 kernel calls of 10–400 µs each, so a worker keeps
// polling for the next call for `spinMicros` after each one before sleeping in Atomics.wait, and the
// caller polls a started part's done flag for as long before it sleeps: back-to-back calls then never
// touch the futex. Workers of an idle backend sleep.
//
// Spinning pays only when the threads have cores to themselves. On a machine with more runnable
// threads than cores, a spinning worker uses up its share and is descheduled just when a call comes
// (measured: it then joined 32 % of the calls, against 75 % sleeping between calls, under load 12 on
// 2 cores). So by default (no spinMicros given) the pool measures how often workers join a call, in
// epochs of EPOCH_RUNS calls, with spinning on and off, keeps the better mode, and re-tries the other
// one epoch in EXPLORE_EVERY.
//
// Control words (Int32Array over a SharedArrayBuffer, one 64-byte slot each so that threads do not
// share cache lines): slot 0 the claim word (run sequence << 8 | next part; 0 = closed) and the part
// count; slot i (1 ≤ i < threads) worker i's wake sequence and spin budget; slot threads + p part p's
// done sequence and error flag.
//
// Threads: Node worker_threads (worker.ts), or in a browser Web Workers (web-worker.ts, bundled as
// dist/gmnas.kernel-worker.js) started from a dedicated worker (the search worker) of a cross-origin
// isolated page — the caller blocks in Atomics.wait, which a page's main thread may not do; there the
// backend runs on one thread (kernelThreadsHere).
import type { KernelExports } from './module.js';
import { runTask, TASK_ARGS } from './tasks.js';

export const SLOT_INTS = 16;
export const STOP = -1;
/** Words of slot 0. */
export const CLAIM = 0, PARTS = 1;
/** Words of a worker's slot. */
export const WAKE = 0, SPIN = 1;
/** Words of a part's slot. */
export const DONE = 0, ERROR = 1;
/** Default spin before sleeping, µs: longer than the host work between two kernel calls of a step. */
export const DEFAULT_SPIN_MICROS = 200;
/** Split calls per epoch of the spin-or-sleep choice, and how often (in epochs) the other mode is re-tried. */
export const EPOCH_RUNS = 256, EXPLORE_EVERY = 8;

interface NodeWorker {
  on(ev: 'message', fn: (m: unknown) => void): void;
  once(ev: 'message' | 'error', fn: (m: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
}

/** A started kernel thread, Node or Web. */
interface KernelThread { terminate(): void }

interface WebWorker {
  postMessage(m: unknown): void;
  addEventListener(ev: 'message' | 'error', fn: (e: { data?: unknown; message?: string }) => void): void;
  terminate(): void;
}

const isNode = typeof process === 'object' && !!(process as { versions?: { node?: string } }).versions?.node;

/** Where kernel threads can run here: 'node' (worker_threads), 'web' (a dedicated Web Worker of a
 *  cross-origin isolated page, which may block and start workers), or null (one thread). */
export function kernelThreadsHere(): 'node' | 'web' | null {
  if (isNode) return 'node';
  const g = globalThis as { Worker?: unknown; WorkerGlobalScope?: unknown; crossOriginIsolated?: boolean; importScripts?: unknown };
  const inWorker = typeof g.WorkerGlobalScope === 'function' && typeof g.importScripts === 'function';
  return inWorker && typeof g.Worker === 'function' && g.crossOriginIsolated === true ? 'web' : null;
}

const now: () => number = typeof performance === 'object' ? () => performance.now() : () => Date.now();

/** Poll until ctl[at] !== value or `micros` pass (clock read every 64 polls); true when it changed. */
export function spinWhile(ctl: Int32Array, at: number, value: number, micros: number): boolean {
  if (Atomics.load(ctl, at) !== value) return true;
  if (micros <= 0) return false;
  const until = now() + micros / 1000;
  for (let i = 1; ; i++) {
    if (Atomics.load(ctl, at) !== value) return true;
    if ((i & 63) === 0 && now() > until) return false;
  }
}

/** Block until ctl[at] !== value: spin for `micros`, then sleep in Atomics.wait (`timeoutMs` a round). */
export function waitWhile(ctl: Int32Array, at: number, value: number, micros: number, timeoutMs: number): void {
  if (spinWhile(ctl, at, value, micros)) return;
  while (Atomics.load(ctl, at) === value) Atomics.wait(ctl, at, value, timeoutMs);
}

/** Take the next part of run `seq` (the claim word holds seq << 8 | next); -1 when none is left or the
 *  run is over. The caller closes the claim word (0) after each run, before it writes the next one's
 *  part count, so a late claim for an old run fails its compare-and-swap. */
export function claimPart(ctl: Int32Array, seq: number): number {
  for (;;) {
    const v = Atomics.load(ctl, CLAIM);
    if (v >>> 8 !== seq) return -1;
    const p = v & 255;
    if (p >= Atomics.load(ctl, PARTS)) return -1;
    if (Atomics.compareExchange(ctl, CLAIM, v, v + 1) === v) return p;
  }
}

/** Run part p's block and publish its done sequence (and error flag) in its slot. */
export function runPart(k: KernelExports, ctl: Int32Array, blocks: Float64Array[], threads: number, p: number, seq: number): unknown {
  const at = (threads + p) * SLOT_INTS;
  let failure: unknown = null;
  try {
    runTask(k, blocks[p]);
  } catch (err) {
    failure = err ?? new Error('kernel failed');
  }
  Atomics.store(ctl, at + ERROR, failure ? 1 : 0);
  Atomics.store(ctl, at + DONE, seq);
  Atomics.notify(ctl, at + DONE);
  return failure;
}

/** The argument blocks of `threads` parts over `args`. */
export function partBlocks(args: SharedArrayBuffer, threads: number): Float64Array[] {
  return Array.from({ length: threads }, (_, i) => new Float64Array(args, i * TASK_ARGS * 8, TASK_ARGS));
}

/** The mode (1 spin, 0 sleep) for epoch `epochs` given the share of calls workers joined in each
 *  mode's last epoch ([sleep, spin], NaN before one): the mode they joined more (spinning on a tie
 *  within 5 points: lower latency; also until both were measured), the other one every EXPLORE_EVERY
 *  epochs so that a change of load is noticed. */
export function nextSpinMode(joinedShare: readonly number[], epochs: number): number {
  const [sleep, spin] = joinedShare;
  const best = Number.isNaN(sleep) || Number.isNaN(spin) || spin >= sleep - 0.05 ? 1 : 0;
  return epochs % EXPLORE_EVERY === 0 ? 1 - best : best;
}

export class ThreadPool {
  private seq = 0;
  private readonly ctl: Int32Array;
  private readonly blocks: Float64Array[];
  private spin = DEFAULT_SPIN_MICROS;
  /** spinMicros was set: no adaptive choice */
  private fixedSpin = false;
  /** adaptive choice: the current mode (1 spin, 0 sleep), the share of calls workers joined in each
   *  mode's last epoch, and the current epoch's counts */
  private mode = 1;
  private readonly joinedShare = [NaN, NaN];
  private epochs = 0;
  private epochRuns = 0;
  private epochJoined = 0;
  /** Calls run on the caller alone, split runs, parts the caller ran, parts workers ran, and those the
   *  caller had to wait for (bench/wasm-threads.ts prints them). */
  readonly counts = { single: 0, runs: 0, mine: 0, theirs: 0, waited: 0 };
  /** Whether the caller takes parts itself (false: it only waits, so workers run every part — tests
   *  use it to check the workers' path). */
  callerClaims = true;
  /** parts the caller ran in the current run */
  private readonly mine: Uint8Array;

  private constructor(private readonly k: KernelExports, private readonly workers: KernelThread[],
    control: SharedArrayBuffer, args: SharedArrayBuffer, private readonly errors: { last: string }) {
    this.ctl = new Int32Array(control);
    this.blocks = partBlocks(args, workers.length + 1);
    this.mine = new Uint8Array(workers.length + 1);
    this.setSpin(DEFAULT_SPIN_MICROS);
  }

  /** The spin budget in force (the workers read theirs from shared memory). */
  private setSpin(us: number): void {
    this.spin = us;
    for (let i = 1; i < this.size; i++) Atomics.store(this.ctl, i * SLOT_INTS + SPIN, us);
  }

  /** Whether spinning is in force now (adaptive mode 1, or a fixed budget above 0). */
  get spinning(): boolean { return this.spin > 0; }

  /** End of an adaptive epoch: record the mode's share of joined calls and pick the next mode. */
  private endEpoch(): void {
    this.joinedShare[this.mode] = this.epochJoined / this.epochRuns;
    this.epochRuns = this.epochJoined = 0;
    this.epochs++;
    this.mode = nextSpinMode(this.joinedShare, this.epochs);
    this.setSpin(this.mode ? DEFAULT_SPIN_MICROS : 0);
  }

  /** Threads in all, the main one included. */
  get size(): number { return this.workers.length + 1; }

  /** How long a worker polls for its next call, and the caller for a worker's part, before sleeping
   *  (µs; 0: sleep at once). Workers read it from shared memory, so a change applies at once. Setting
   *  it turns the adaptive choice (see the top of this file) off. */
  get spinMicros(): number { return this.spin; }
  set spinMicros(us: number) {
    if (!(Number.isInteger(us) && us >= 0 && us <= 1_000_000)) throw new Error(`wasm backend: spin ${us} µs must be an integer in [0, 1000000]`);
    this.fixedSpin = true;
    this.setSpin(us);
  }

  /** A pool of `threads` (main included) over `memory`; one thread needs no workers. */
  static async create(k: KernelExports, module: WebAssembly.Module, memory: WebAssembly.Memory, threads: number,
    webWorkerUrl?: string | URL): Promise<ThreadPool> {
    if (threads > 256) throw new Error(`wasm backend: ${threads} threads (at most 256)`);
    const control = new SharedArrayBuffer(2 * threads * SLOT_INTS * 4);
    const args = new SharedArrayBuffer(threads * TASK_ARGS * 8);
    const errors = { last: '' };
    if (threads > 1 && !isNode) {
      const workers = await startWebWorkers({ module, memory, control, args, threads }, errors, webWorkerUrl);
      return new ThreadPool(k, workers, control, args, errors);
    }
    const workers: NodeWorker[] = [];
    if (threads > 1) {
      // a non-literal specifier keeps bundlers for the browser from trying to resolve it
      const spec = 'node:worker_threads';
      const { Worker } = await import(/* @vite-ignore */ spec) as { Worker: new (url: URL, o: object) => NodeWorker };
      const url = new URL('./worker.js', import.meta.url);
      const started: Promise<void>[] = [];
      for (let i = 1; i < threads; i++) {
        const w = new Worker(url, { workerData: { module, memory, control, args, index: i, threads } });
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
      // A worker reports a failed kernel's stack as a message. The listener goes on before unref():
      // adding one later would ref the port again and keep the process alive at exit.
      for (const w of workers) w.on('message', (m) => { if (m !== 'ready') errors.last = String(m); });
      // idle workers must not keep the process alive (they wait in Atomics.wait, not on events)
      for (const w of workers) w.unref();
    }
    return new ThreadPool(k, workers, control, args, errors);
  }

  /** Argument block of part i, for the caller to fill before run(). */
  block(i: number): Float64Array { return this.blocks[i]; }

  /** Run the parts in blocks [0, count) on this thread and the workers; return when all are done. */
  run(count: number): void {
    if (count > this.size) throw new Error(`wasm backend: ${count} parts for ${this.size} threads`);
    if (count <= 1) { this.counts.single++; runTask(this.k, this.blocks[0]); return; }
    const ctl = this.ctl, threads = this.size;
    this.seq = (this.seq % 0x7fffff) + 1; // 23 bits, never 0 (the closed claim word)
    const seq = this.seq;
    this.counts.runs++;
    Atomics.store(ctl, PARTS, count);
    Atomics.store(ctl, CLAIM, seq << 8);
    for (let i = 1; i < count; i++) {
      Atomics.store(ctl, i * SLOT_INTS + WAKE, seq);
      Atomics.notify(ctl, i * SLOT_INTS + WAKE);
    }
    let failure: unknown = null;
    this.mine.fill(0);
    let ranHere = 0;
    for (let p = this.callerClaims ? claimPart(ctl, seq) : -1; p >= 0; p = claimPart(ctl, seq)) {
      this.mine[p] = 1;
      ranHere++;
      this.counts.mine++;
      const f = runPart(this.k, ctl, this.blocks, threads, p, seq);
      failure ??= f;
    }
    let workerFailed = false;
    for (let p = 0; p < count; p++) {
      if (this.mine[p]) continue;
      const at = (threads + p) * SLOT_INTS;
      this.counts.theirs++;
      if (Atomics.load(ctl, at + DONE) !== seq) this.counts.waited++;
      for (let done = Atomics.load(ctl, at + DONE); done !== seq; done = Atomics.load(ctl, at + DONE)) {
        waitWhile(ctl, at + DONE, done, this.spin, 1000);
      }
      if (Atomics.load(ctl, at + ERROR)) workerFailed = true;
    }
    Atomics.store(ctl, CLAIM, 0);
    if (!this.fixedSpin) {
      if (ranHere < count) this.epochJoined++; // a worker took a part
      if (++this.epochRuns === EPOCH_RUNS) this.endEpoch();
    }
    if (failure) throw failure;
    if (workerFailed) throw new Error(`wasm backend: a worker thread's kernel failed${this.errors.last ? `: ${this.errors.last}` : ''}`);
  }

  dispose(): void {
    for (let i = 1; i < this.size; i++) {
      Atomics.store(this.ctl, i * SLOT_INTS + WAKE, STOP);
      Atomics.notify(this.ctl, i * SLOT_INTS + WAKE);
    }
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }
}

/** threads − 1 Web Workers running dist/gmnas.kernel-worker.js (next to the bundle this code is in,
 *  unless `url` says where), each sent the module, the memory and the control buffers. */
async function startWebWorkers(d: { module: WebAssembly.Module; memory: WebAssembly.Memory; control: SharedArrayBuffer;
  args: SharedArrayBuffer; threads: number }, errors: { last: string }, url?: string | URL): Promise<KernelThread[]> {
  const W = (globalThis as unknown as { Worker: new (u: URL | string, o: object) => WebWorker }).Worker;
  const at = url ?? new URL('./gmnas.kernel-worker.js', import.meta.url);
  const workers: WebWorker[] = [];
  const started: Promise<void>[] = [];
  for (let i = 1; i < d.threads; i++) {
    const w = new W(at, { type: 'module', name: `gmnas-kernels-${i}` });
    started.push(new Promise((resolve, reject) => {
      w.addEventListener('message', (e) => { if (e.data === 'ready') resolve(); else errors.last = String(e.data); });
      w.addEventListener('error', (e) => reject(new Error(`wasm backend: kernel worker ${i} (${String(at)}) failed to start: ${e.message ?? 'error'}`)));
    }));
    w.postMessage({ ...d, index: i });
    workers.push(w);
  }
  try {
    // a worker script that never loads reports no error in some browsers: do not wait for ever
    await Promise.race([Promise.all(started), new Promise((_, reject) => setTimeout(() =>
      reject(new Error(`wasm backend: kernel workers (${String(at)}) did not start within 20 s`)), 20_000))]);
  } catch (err) {
    for (const w of workers) w.terminate();
    throw err;
  }
  return workers;
}
