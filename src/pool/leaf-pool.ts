// Leaves trained in parallel by a piscina pool (Node): one worker thread per job slot, each with its
// own device (Dawn supports one device per worker thread). A job that fails — an exception, or a
// worker that dies — is retried once (it resumes from the leaf's last checkpoint); a second failure
// is reported with the leaf's id and the other leaves still finish.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { BackendKind } from '../engine/select-backend.js';
import { prepareNodeGpuEnv } from '../engine/webgpu/device.js';
import type { SearchConfig } from '../nas/config.js';
import type { LeafRunner } from '../nas/search.js';
import type { LeafResult, ProgressListener, ProgressEvent } from '../nas/phases.js';
import type { LeafMessage, LeafTask } from './leaf-worker.js';

export interface PoolOptions {
  config: SearchConfig;
  /** the run folder (the workers read and write the leaves' checkpoints there) */
  location: string;
  /** the resolved device kind every worker creates */
  device: Exclude<BackendKind, 'auto'>;
  /** whether the workers' devices autotune their kernels (sharing the default cache file) */
  autotune: boolean;
  workers: number;
  /** wasm backend: threads for the whole pool (default: the cores), shared out between the workers */
  threads?: number;
  onProgress?: ProgressListener;
  onLog?: (line: string) => void;
  /** test hook: leaves whose jobs fail on every try */
  failNodes?: number[];
}

/** The wasm backend's threads in each of `workers` pool workers sharing `total`: floor(total / workers),
 *  at least one. */
export function leafThreads(total: number, workers: number): number {
  return Math.max(1, Math.floor(total / Math.max(1, workers)));
}

/** Share of the kernel's per-process mapping limit the devices may fill (the rest: Node, V8, libraries). */
const MAP_BUDGET_SHARE = 0.8;

/**
 * Leaf workers whose WebGPU devices fit this process's memory-mapping budget. lavapipe maps every
 * live descriptor set (one per bind group) on its own, so a device holds thousands of mappings, and a
 * process past the kernel's limit (vm.max_map_count) crashes inside lavapipe (SIGSEGV; docs/spaces.md
 * "The quick DARTS search"). Each worker's device is assumed to need as many mappings as the process
 * holds now (`mapped`, its own device after the splits, a leaf trains the same supernet), and the
 * process with its workers must stay under MAP_BUDGET_SHARE of `maxMapCount`. At least one.
 */
export function workersWithinMapBudget(wanted: number, mapped: number, maxMapCount: number): number {
  if (!(mapped > 0) || !(maxMapCount > 0)) return wanted;
  return Math.max(1, Math.min(wanted, Math.floor((MAP_BUDGET_SHARE * maxMapCount - mapped) / mapped)));
}

/** This process's memory mappings and the kernel's limit (Linux /proc), or null elsewhere. */
function processMappings(): { mapped: number; max: number } | null {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    let mapped = 0;
    for (let i = maps.indexOf('\n'); i >= 0; i = maps.indexOf('\n', i + 1)) mapped++;
    return { mapped, max: Number(readFileSync('/proc/sys/vm/max_map_count', 'utf8').trim()) };
  } catch {
    return null;
  }
}

export function poolLeafRunner(o: PoolOptions): LeafRunner {
  return async (jobs, ctx) => {
    // before the workers start: a worker's writes to process.env never reach Mesa (device.ts)
    if (o.device === 'webgpu') prepareNodeGpuEnv(process.env, availableParallelism());
    let slots = Math.max(1, Math.min(o.workers, jobs.length));
    const maps = o.device === 'webgpu' ? processMappings() : null;
    if (maps) {
      const fit = workersWithinMapBudget(slots, maps.mapped, maps.max);
      if (fit < slots) {
        o.onLog?.(`note: ${fit} leaf worker(s) instead of ${slots}: this process holds ${maps.mapped} memory mappings (its WebGPU ` +
          `device's), and ${slots} more devices like it could pass the kernel's limit of ${maps.max} (vm.max_map_count), ` +
          'where lavapipe crashes');
        slots = fit;
      }
    }
    const pool = new Piscina({
      filename: new URL('./leaf-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: slots,
      idleTimeout: 1000,
    });
    // wasm: leaves trained side by side split the threads, so the kernels' threads never outnumber the cores
    const threads = leafThreads(o.threads ?? availableParallelism(), slots);
    const failed: { node: number; error: string }[] = [];
    // the main thread writes state.json; saves are chained so two workers' epochs never interleave
    let saving: Promise<void> = Promise.resolve();
    const runOnce = (job: (typeof jobs)[number]): Promise<LeafResult> => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (m: LeafMessage) => {
        if (m.type === 'progress') o.onProgress?.(m.event as ProgressEvent);
        else saving = saving.then(() => ctx.onEpochSaved(job.node.id, m.progress));
      });
      const task: LeafTask = {
        config: o.config, location: o.location, device: o.device, autotune: o.autotune, node: job.node, progress: job.progress, port: port2,
        ...(o.device === 'wasm' ? { threads } : {}),
        ...(o.failNodes ? { failNodes: o.failNodes } : {}),
      };
      return (pool.run(task, { transferList: [port2] }) as Promise<LeafResult>).finally(() => port1.close());
    };
    try {
      await Promise.all(jobs.map(async (job) => {
        let result: LeafResult | null = null;
        for (let attempt = 1; attempt <= 2 && !result; attempt++) {
          try {
            result = await runOnce(job);
          } catch (e) {
            const msg = (e as Error).message;
            if (attempt === 1) {
              o.onLog?.(`leaf ${job.node.id}: worker failed (${msg}); retrying once from its last checkpoint`);
            } else {
              o.onLog?.(`leaf ${job.node.id}: failed again (${msg}); the other leaves go on`);
              failed.push({ node: job.node.id, error: msg });
            }
          }
        }
        await saving;
        if (result) {
          saving = saving.then(() => ctx.onResult(result!));
          await saving;
        }
      }));
    } finally {
      await pool.destroy();
    }
    return { failed: failed.sort((a, b) => a.node - b.node) };
  };
}
