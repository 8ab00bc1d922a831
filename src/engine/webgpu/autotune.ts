// Light autotuning of the kernels that have several equivalent tilings (issue 5 item 4): the
// convolution's implicit-GEMM register blocking and the weight gradient's split-K count.
//
// Why not fixed rules alone: the best blocking depends on the adapter (lavapipe's per-lane load cost
// versus a GPU's occupancy) and on the layer's shape; rules measured on one machine misplace others.
// Why not heavy search: every variant is another pipeline to compile (0.1-0.6 s each on lavapipe), so
// each family offers a handful of variants, the rule's choice first.
//
// How it works, per device (one Autotuner per WebGpuBackend):
//   - a kernel asks `pick(family, shape, defaults, variants, bench)` on every dispatch. The first time a
//     (family, shape) is seen it is recorded with the rule's choice (the first variant), or with the
//     choice the cache file holds for it on this adapter;
//   - `tune()` times every variant of every recorded, untuned key on scratch buffers of the key's
//     shape (random data), keeps the fastest and saves the choices; later dispatches use them.
//     Training loops call it after their first step (src/engine/tuning.ts), when the keys are known;
//   - every variant computes the same sums (only the work split differs), so results agree with the
//     rule's to f32 rounding — test/engine/autotune.test.ts checks each against the CPU reference.
// File I/O is injected (`AutotuneCacheStore`): this module also runs in browsers; the Node store is
// src/io/autotune-cache.ts.

/** Kernel families with tunable variants. */
export type TuneFamily = 'conv-fwd' | 'conv-dgrad' | 'conv-wgrad';

/** One way to run a kernel: `name` is stable (the cache file stores it), `params` what the kernel uses. */
export interface TuneVariant<P> {
  readonly name: string;
  readonly params: P;
}

/** Scratch buffers of one key's shape holding random data, and the kernel run on them with a variant. */
export interface TuneBench<P> {
  /** encode one run of the kernel with `params` (work is submitted by the tuner's sync) */
  run(params: P): void;
  dispose(): void;
}

/** Where tuned choices persist between runs. */
export interface AutotuneCacheStore {
  /** the file (or other place) it reads and writes, named in messages */
  readonly location: string;
  /** the stored text; null when there is none yet. Throws when it exists but cannot be read. */
  load(): string | null;
  /** replace the stored text (atomically, so a concurrent reader never sees half a file) */
  save(text: string): void;
}

/** The cache file: choices keyed by `${family}|${shape}|${adapter}` (entries of every adapter kept). */
export interface AutotuneCacheFile {
  version: number;
  /** the adapter of the process that wrote it last */
  adapter: string;
  entries: Record<string, string>;
}

/** Bump when variant names or their meaning change: older files are then ignored (and replaced). */
export const AUTOTUNE_CACHE_VERSION = 1;

export interface AutotuneReportRow {
  /** `${family}|${shape}|${adapter}` */
  key: string;
  family: TuneFamily;
  shape: string;
  /** the variant dispatches use */
  chosen: string;
  /** 'timed': measured in this process; 'cache': taken from the cache file */
  source: 'timed' | 'cache';
  /** ms per run of every variant (timed keys; empty for cached ones) */
  timesMs: Record<string, number>;
}

export interface AutotunerOptions {
  /** false: no key is recorded, kernels use their rules, nothing is timed or read or written */
  enabled: boolean;
  /** identifies the adapter and driver (see adapterKey) */
  adapter: string;
  /** resolves when all submitted work has finished (the device's sync) */
  sync: () => Promise<void>;
  store?: AutotuneCacheStore | null;
  /** one-line warnings (unreadable or corrupt cache file, failed save); default console.warn */
  warn?: (msg: string) => void;
  /** one-line notices when tuning starts and ends (a first run on an adapter spends seconds there);
   *  default none */
  info?: (msg: string) => void;
  /** wall clock in ms (default performance.now) */
  now?: () => number;
}

interface Entry {
  family: TuneFamily;
  shape: string;
  variants: TuneVariant<unknown>[];
  chosen: number;
  state: 'untuned' | 'timed' | 'cache';
  timesMs: number[] | null;
  bench: () => TuneBench<unknown>;
}

/** Timed batches per variant; the score is the fastest batch (least disturbed by other load). */
const BATCHES = 5;
/** After a round, a variant slower than this many times the best so far cannot win: it is timed no
 *  more (the slow variants would otherwise take most of the tuning time). */
const DROP_FACTOR = 1.5;
/** Runs per timed batch aim at this many ms, so a sub-millisecond kernel is not timed on one run. */
const TARGET_BATCH_MS = 8;
const MAX_REPS = 16;
/** A variant replaces the rule's choice only when faster by more than this fraction: closer times are
 *  noise, and the rule's choice is the one every other machine runs. */
const MIN_GAIN = 0.05;
/** Extra rounds of the rule's variant against a would-be winner before it replaces the rule: a choice
 *  made during a burst of other load on a shared machine would otherwise be cached for good. */
const CONFIRM_ROUNDS = 3;

/** The adapter part of a key: vendor, architecture, device and driver description ('|' removed). */
export function adapterKey(info: { vendor: string; architecture: string; device: string; description: string }): string {
  return [info.vendor, info.architecture, info.device, info.description].join('/').replace(/\|/g, '_');
}

/** Parse a cache file's text; throws an Error saying what is wrong. Other versions give no entries. */
export function parseAutotuneCache(text: string): Record<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`not valid JSON (${(e as Error).message})`);
  }
  const f = v as Partial<AutotuneCacheFile> | null;
  if (!f || typeof f !== 'object' || typeof f.version !== 'number') throw new Error('not an autotune cache (no numeric "version")');
  if (f.version !== AUTOTUNE_CACHE_VERSION) return {};
  if (!f.entries || typeof f.entries !== 'object' || Array.isArray(f.entries)) throw new Error('"entries" is not an object');
  const out: Record<string, string> = {};
  for (const [k, name] of Object.entries(f.entries)) {
    if (typeof name !== 'string') throw new Error(`entry "${k}" is not a variant name`);
    out[k] = name;
  }
  return out;
}

export class Autotuner {
  readonly enabled: boolean;
  readonly adapter: string;
  private readonly sync: () => Promise<void>;
  private readonly store: AutotuneCacheStore | null;
  private readonly warn: (msg: string) => void;
  private readonly info: ((msg: string) => void) | undefined;
  private readonly now: () => number;
  /** by `${family}|${shape}` (the adapter is the same for every key of a device) */
  private readonly entries = new Map<string, Entry>();
  /** choices read from the cache file, by full key */
  private readonly cached: Record<string, string>;
  private timed = 0;
  private saveFailed = false;

  constructor(o: AutotunerOptions) {
    this.enabled = o.enabled;
    this.adapter = o.adapter;
    this.sync = o.sync;
    this.store = o.enabled ? o.store ?? null : null;
    this.warn = o.warn ?? ((m) => console.warn(m));
    this.info = o.info;
    this.now = o.now ?? (() => performance.now());
    this.cached = this.store ? this.readStore(this.store) ?? {} : {};
  }

  /** Keys timed by this tuner so far (a key found in the cache file is not timed). */
  get timedKeys(): number { return this.timed; }

  /** Full key of a (family, shape) on this adapter. */
  key(family: TuneFamily, shape: string): string {
    return `${family}|${shape}|${this.adapter}`;
  }

  /**
   * The parameters a dispatch of (family, shape) should use: `defaults` (the rule's) when tuning is
   * off, else the tuned, cached or default variant. `variants` (defaults first) and `bench` are
   * called only the first time the key is seen, and `bench` only when it is tuned.
   */
  pick<P>(family: TuneFamily, shape: string, defaults: P, variants: () => TuneVariant<P>[], bench: () => TuneBench<P>): P {
    if (!this.enabled) return defaults;
    const id = `${family}|${shape}`;
    let e = this.entries.get(id);
    if (!e) {
      const list = variants() as TuneVariant<unknown>[];
      const fromCache = this.cached[this.key(family, shape)];
      const at = fromCache === undefined ? -1 : list.findIndex((v) => v.name === fromCache);
      e = {
        family, shape, variants: list, chosen: Math.max(0, at), timesMs: null,
        state: at >= 0 ? 'cache' : 'untuned', bench: bench as () => TuneBench<unknown>,
      };
      this.entries.set(id, e);
    }
    return e.variants[e.chosen].params as P;
  }

  /** Recorded keys with more than one variant that are neither timed nor cached. */
  pendingKeys(): string[] {
    return [...this.entries.values()].filter((e) => e.state === 'untuned' && e.variants.length > 1)
      .map((e) => this.key(e.family, e.shape));
  }

  /**
   * Time every variant of every pending key and keep the fastest; saves the choices when there is a
   * store. Returns the number of keys timed (0, and no device work, when nothing is pending).
   */
  async tune(): Promise<number> {
    if (!this.enabled) return 0;
    const pending = [...this.entries.values()].filter((e) => e.state === 'untuned' && e.variants.length > 1);
    if (!pending.length) return 0;
    const t0 = this.now();
    this.info?.(`autotune: timing ${pending.length} kernel shape${pending.length > 1 ? 's' : ''} on this adapter` +
      (this.store ? ` (once: the choices are cached in ${this.store.location})` : ''));
    // the caller's queued work must not be counted against the first variant
    await this.sync();
    for (const e of pending) {
      const bench = e.bench();
      let times: number[];
      let best: number;
      try {
        ({ times, best } = await this.timeVariants(bench, e.variants));
      } finally {
        bench.dispose();
      }
      e.timesMs = times;
      e.chosen = best;
      e.state = 'timed';
      this.timed++;
    }
    this.save();
    this.info?.(`autotune: ${pending.length} shape${pending.length > 1 ? 's' : ''} tuned in ${((this.now() - t0) / 1000).toFixed(1)} s`);
    return pending.length;
  }

  /** Tuned and cached keys with their choice, in the order they were first dispatched. */
  report(): AutotuneReportRow[] {
    const rows: AutotuneReportRow[] = [];
    for (const e of this.entries.values()) {
      if (e.state === 'untuned') continue;
      const timesMs: Record<string, number> = {};
      e.timesMs?.forEach((t, i) => { timesMs[e.variants[i].name] = t; });
      rows.push({
        key: this.key(e.family, e.shape), family: e.family, shape: e.shape, chosen: e.variants[e.chosen].name,
        source: e.state, timesMs,
      });
    }
    return rows;
  }

  /** ms per run of each variant (the fastest of its timed batches) and the winner's index: a warm-up
   *  run (pipeline compile), then BATCHES rounds that time every variant still in the running in
   *  turn, so load that drifts during tuning affects them alike; a winner other than the rule's
   *  variant must then hold its lead over CONFIRM_ROUNDS more rounds of the two. */
  private async timeVariants(bench: TuneBench<unknown>, variants: TuneVariant<unknown>[]): Promise<{ times: number[]; best: number }> {
    const reps: number[] = [];
    for (const v of variants) {
      bench.run(v.params);
      await this.sync();
      const t0 = this.now();
      bench.run(v.params);
      await this.sync();
      const once = Math.max(this.now() - t0, 1e-3);
      reps.push(Math.min(MAX_REPS, Math.max(1, Math.round(TARGET_BATCH_MS / once))));
    }
    const times = variants.map(() => Infinity);
    const round = async (indices: number[]): Promise<void> => {
      for (const i of indices) {
        const t0 = this.now();
        for (let r = 0; r < reps[i]; r++) bench.run(variants[i].params);
        await this.sync();
        times[i] = Math.min(times[i], (this.now() - t0) / reps[i]);
      }
    };
    const winner = (): number => {
      let best = 0;
      times.forEach((t, i) => { if (t < times[best]) best = i; });
      return times[best] < times[0] * (1 - MIN_GAIN) ? best : 0;
    };
    let running = variants.map((_, i) => i);
    for (let b = 0; b < BATCHES; b++) {
      await round(running);
      const fastest = Math.min(...times);
      // the rule's variant stays in: a replacement is measured against it
      running = running.filter((i) => i === 0 || times[i] <= fastest * DROP_FACTOR);
    }
    const challenger = winner();
    if (challenger === 0) return { times, best: 0 };
    for (let b = 0; b < CONFIRM_ROUNDS; b++) await round([0, challenger]);
    return { times, best: winner() === challenger ? challenger : 0 };
  }

  private readStore(store: AutotuneCacheStore): Record<string, string> | null {
    let text: string | null;
    try {
      text = store.load();
    } catch (e) {
      this.warn(`autotune: ignoring the cache ${store.location}: ${(e as Error).message}`);
      return null;
    }
    if (text === null) return null;
    try {
      return parseAutotuneCache(text);
    } catch (e) {
      this.warn(`autotune: ignoring the cache ${store.location}: ${(e as Error).message}; it is rewritten after the next tuning`);
      return null;
    }
  }

  /** Merge this tuner's timed choices into the stored file (other processes' and adapters' entries
   *  kept: leaf workers tune and save concurrently) and write it. */
  private save(): void {
    const store = this.store;
    if (!store || this.saveFailed) return;
    let entries: Record<string, string> = {};
    try {
      const text = store.load();
      if (text !== null) entries = parseAutotuneCache(text);
    } catch {
      // unreadable or corrupt (warned about at start-up): replaced by this tuner's choices
    }
    for (const e of this.entries.values()) {
      if (e.state === 'timed') entries[this.key(e.family, e.shape)] = e.variants[e.chosen].name;
    }
    const file: AutotuneCacheFile = { version: AUTOTUNE_CACHE_VERSION, adapter: this.adapter, entries };
    try {
      store.save(`${JSON.stringify(file, null, 2)}\n`);
    } catch (e) {
      this.saveFailed = true;
      this.warn(`autotune: cannot save the cache ${store.location} (${(e as Error).message}); the choices hold for this run only`);
    }
  }
}
