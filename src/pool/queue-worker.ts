// A gmnas worker on a BullMQ queue (`node run.js worker --queue redis://…`): takes jobs, checks each
// against the schema (queue-jobs.ts) and the store's visibility, and runs it on a piscina thread — the
// same leaf-worker the local pool uses, so a leaf trains exactly as in a local run. Training stays off
// the main thread so BullMQ's lock renewal keeps running: a worker busy for minutes is not taken for
// stalled, while a worker killed outright (kill -9) stops renewing, and after the lock expires another
// worker's stalled check puts the job back on the queue; that worker resumes the leaf from its last
// epoch checkpoint in the shared store.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Worker, UnrecoverableError, type Job } from 'bullmq';
import type { BackendKind } from '../engine/select-backend.js';
import { prepareNodeGpuEnv } from '../engine/webgpu/device.js';
import { getSpace } from '../spaces/registry.js';
import type { LeafResult } from '../nas/phases.js';
import type { LeafMessage, LeafTask } from './leaf-worker.js';
import { QUEUE_NAME, bullConnection, type QueueTarget } from './queue-connection.js';
import { validateJob, JobRejected, type RankLeafJob, type TrainGenotypeJob, type TrainLeafJob } from './queue-jobs.js';
import { checkpointName } from '../nas/phases.js';
import type { GenotypeTaskResult } from '../nas/genotype-training.js';
import type { LeafRankOutput } from '../nas/rank.js';
import { checkStoreVisible } from './shared-store.js';

/** Progress a job reports through job.updateProgress (the coordinator's QueueEvents receive it):
 *  train-leaf: every saved epoch and steps; train-genotype: steps (ProgressEvent); rank-leaf: one
 *  'step' per scored genotype ({ phase: 'rank', node, done, total }). */
export type JobProgressMessage =
  | { kind: 'epoch'; node: number; progress: TrainLeafJob['progress'] }
  | { kind: 'step'; event: unknown };

export interface QueueWorkerOptions {
  target: QueueTarget;
  concurrency: number;
  device: BackendKind;
  autotune: boolean;
  /** absolute --store, or null: use the path each job names (the same mount on every machine) */
  store: string | null;
  /** ms a job's lock lasts without renewal; a dead worker's job is recovered after about this long */
  lockMs: number;
  log: (line: string) => void;
}

export interface RunningWorker {
  worker: Worker;
  close(force?: boolean): Promise<void>;
}

/** ms between step-progress updates of one job (epoch ends always go through) */
const STEP_PROGRESS_MS = 250;

export async function startQueueWorker(o: QueueWorkerOptions): Promise<RunningWorker> {
  // before the threads start: a thread's writes to process.env never reach Mesa (device.ts)
  if (o.device !== 'cpu') prepareNodeGpuEnv(process.env, availableParallelism());
  const pool = new Piscina({
    filename: new URL('./leaf-worker.js', import.meta.url).href,
    minThreads: 1, maxThreads: o.concurrency, idleTimeout: 60_000,
  });

  /** Awaits a pool call, logs how the job ended, and closes the progress port the call was given. */
  const settle = async <T>(job: Job, port: MessagePort, run: () => Promise<T>, describe: (r: T) => string): Promise<T> => {
    try {
      const result = await run();
      o.log(`job ${job.id}: done, ${describe(result)}`);
      return result;
    } catch (e) {
      o.log(`job ${job.id}: failed (${(e as Error).message})`);
      throw e;
    } finally {
      port.close();
    }
  };

  const process_ = async (job: Job): Promise<unknown> => {
    let valid;
    try {
      valid = validateJob(job.name, job.data, o.store);
    } catch (e) {
      const reason = e instanceof JobRejected ? e.message : `invalid job (${(e as Error).message})`;
      o.log(`rejected job ${job.id}: ${reason}`);
      throw new UnrecoverableError(`rejected by worker: ${reason}`);
    }
    try {
      checkStoreVisible(valid.storeRoot, 'store');
      // a stand-alone training reads no checkpoint; the other kinds need the run's folder in the store
      if (valid.kind !== 'train-genotype') checkStoreVisible(join(valid.checkpointRoot, 'checkpoints'), 'checkpoint folder');
    } catch (e) {
      o.log(`job ${job.id}: ${(e as Error).message}`);
      throw new UnrecoverableError((e as Error).message);
    }
    if (valid.kind === 'train-genotype') return runGenotypeJob(job, valid.data as TrainGenotypeJob);
    if (valid.kind === 'rank-leaf') return runRankJob(job, valid.data as RankLeafJob, valid.checkpointRoot);
    const d = valid.data as TrainLeafJob;
    o.log(`job ${job.id}: ${valid.kind} node ${d.node.id} (attempt ${job.attemptsMade + 1}), checkpoints in ${valid.checkpointRoot}`);
    const { port1, port2 } = new MessageChannel();
    let lastStep = 0;
    const send = (m: JobProgressMessage): void => { job.updateProgress(m as object).catch(() => {}); };
    port1.on('message', (m: LeafMessage) => {
      if (m.type === 'epoch') {
        o.log(`job ${job.id}: epoch ${m.progress.epochsDone}/${d.config.totalEpochs} saved`);
        send({ kind: 'epoch', node: d.node.id, progress: m.progress });
        return;
      }
      const ev = m.event as { loss?: number };
      const now = Date.now();
      if (ev.loss === undefined && now - lastStep < STEP_PROGRESS_MS) return;
      lastStep = now;
      send({ kind: 'step', event: m.event });
    });
    const task: LeafTask = {
      config: d.config, location: valid.checkpointRoot, checkpointRoot: valid.checkpointRoot,
      device: o.device, autotune: o.autotune, progress: d.progress, port: port2,
      node: { id: d.node.id, mask: getSpace(d.config.space).parseMask(d.node.mask), fromEpoch: d.node.fromEpoch, toEpoch: d.node.toEpoch, restartedAt: d.node.restartedAt },
      ...(d.fail ? { failNodes: [d.node.id] } : {}),
    };
    return settle(job, port1, () => pool.run(task, { transferList: [port2] }) as Promise<LeafResult>,
      (r) => `${r.genotype}  val acc ${r.val.accuracy.toFixed(2)} %`);
  };

  /** Runs `task` on a pool thread's export `name`, relaying its progress messages as 'step' progress. */
  const onThread = async <T>(job: Job, name: string, task: Record<string, unknown>, describe: (r: T) => string): Promise<T> => {
    const { port1, port2 } = new MessageChannel();
    let lastStep = 0;
    port1.on('message', (m: LeafMessage) => {
      if (m.type !== 'progress') return;
      const ev = m.event as { loss?: number; done?: number; total?: number };
      const now = Date.now();
      if (ev.loss === undefined && ev.done !== ev.total && now - lastStep < STEP_PROGRESS_MS) return;
      lastStep = now;
      job.updateProgress({ kind: 'step', event: m.event } satisfies JobProgressMessage as object).catch(() => {});
    });
    return settle(job, port1, () => pool.run({ ...task, device: o.device, autotune: o.autotune, port: port2 }, { name, transferList: [port2] }) as Promise<T>, describe);
  };

  const runGenotypeJob = (job: Job, d: TrainGenotypeJob): Promise<GenotypeTaskResult> => {
    const t = d.task;
    o.log(`job ${job.id}: train-genotype ${t.purpose} leaf ${t.node}, ${t.epochs} epoch(s) (attempt ${job.attemptsMade + 1})`);
    return onThread<GenotypeTaskResult>(job, 'trainGenotype', { config: d.config, task: t },
      (r) => (r.purpose === 'halving' ? `val acc ${r.accuracy.toFixed(2)} %` : `test acc ${r.retrain.testAccuracy.toFixed(2)} %`));
  };

  const runRankJob = (job: Job, d: RankLeafJob, checkpointRoot: string): Promise<LeafRankOutput> => {
    const checkpoint = join(checkpointRoot, 'checkpoints', `${checkpointName(d.node.id)}.safetensors`);
    o.log(`job ${job.id}: rank-leaf node ${d.node.id}, ${d.archs.length} genotype(s) with ${checkpoint} (attempt ${job.attemptsMade + 1})`);
    return onThread<LeafRankOutput>(job, 'rankLeaf', {
      config: d.config, checkpoint, node: d.node.id, mask: d.node.mask, archs: d.archs, rank: d.rank, dataset: d.dataset,
    }, (r) => `${r.scores.length} genotype(s) scored`);
  };

  const worker = new Worker(QUEUE_NAME, process_, {
    connection: bullConnection(o.target),
    concurrency: o.concurrency,
    lockDuration: o.lockMs,
    stalledInterval: Math.max(500, Math.floor(o.lockMs / 2)),
    maxStalledCount: 1,
  });
  worker.on('error', (e) => o.log(`queue error: ${e.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    close: async (force = false) => {
      await worker.close(force);
      await pool.destroy();
    },
  };
}
