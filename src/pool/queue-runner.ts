// The coordinator's side of a queued search: a LeafRunner (src/nas/search.ts) that puts one train-leaf
// job per pending leaf on the BullMQ queue instead of training them on the local piscina pool, follows
// their progress (a bar per job; every finished epoch goes into state.json as in a local run) and
// collects their results.
//
// Job ids are deterministic — `<run key>-leaf-<node>`, the run key a hash of the run folder and its
// start time (state.json) — so a coordinator restarted with --resume finds its jobs: one in flight or
// waiting is reattached (not queued twice), one finished while the coordinator was down gives its result
// at once, one that had failed is queued again. A job is tried twice (BullMQ attempts: 2) before its
// leaf goes to failedLeaves; a worker's rejection (bad job, store not visible) fails it at once.
import { createHash } from 'node:crypto';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { LeafRunner } from '../nas/search.js';
import type { LeafResult, ProgressEvent, ProgressListener } from '../nas/phases.js';
import type { SearchConfig } from '../nas/config.js';
import { getSpace } from '../spaces/registry.js';
import { QUEUE_NAME, bullConnection, type QueueTarget } from './queue-connection.js';
import { JOB_VERSION, jobConfig, type JobStore, type TrainLeafJob } from './queue-jobs.js';
import type { JobProgressMessage } from './queue-worker.js';

export interface QueueRunnerOptions {
  target: QueueTarget;
  config: SearchConfig;
  store: JobStore;
  /** the run's key in job ids; read when the leaves start (state.json exists by then) */
  runKey: () => Promise<string>;
  onProgress?: ProgressListener;
  onLog?: (line: string) => void;
  /** test hook (--inject-leaf-failure): these leaves' jobs fail on every try */
  failNodes?: number[];
}

/** A run's key: the same for a run and its resumption, different for any other run. */
export function runKeyOf(runFolder: string, startedAt: string): string {
  return createHash('sha256').update(`${runFolder}\n${startedAt}`).digest('hex').slice(0, 16);
}

export const leafJobId = (runKey: string, node: number): string => `gmnas-${runKey}-leaf-${node}`;

export function queueLeafRunner(o: QueueRunnerOptions): LeafRunner {
  const log = o.onLog ?? (() => {});
  return async (jobs, ctx) => {
    const runKey = await o.runKey();
    const connection = bullConnection(o.target);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    const nodeOf = new Map<string, number>();
    // epochs and results go to state.json one at a time, in the order they arrive
    let saving: Promise<void> = Promise.resolve();
    let saveError: Error | null = null;
    const chain = (fn: () => Promise<void>): Promise<void> => {
      saving = saving.then(fn).catch((e: Error) => { saveError ??= e; });
      return saving;
    };
    events.on('progress', ({ jobId, data }) => {
      const node = nodeOf.get(jobId);
      if (node === undefined) return;
      const m = data as JobProgressMessage;
      if (m && m.kind === 'epoch') void chain(() => ctx.onEpochSaved(node, m.progress));
      else if (m && m.kind === 'step') o.onProgress?.(m.event as ProgressEvent);
    });
    events.on('stalled', ({ jobId }) => {
      if (nodeOf.has(jobId)) log(`leaf ${nodeOf.get(jobId)}: its worker stopped answering; job ${jobId} is back on the queue and resumes from the last epoch checkpoint`);
    });
    events.on('waiting', ({ jobId, prev }) => {
      if (prev === 'failed' && nodeOf.has(jobId)) log(`leaf ${nodeOf.get(jobId)}: job failed once; retrying from its last checkpoint`);
    });
    events.on('error', (e) => log(`queue events: ${e.message}`));
    queue.on('error', (e) => log(`queue: ${e.message}`));
    const failed: { node: number; error: string }[] = [];
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      log(`queue ${o.target.display}: ${jobs.length} leaf job(s) for run ${runKey}`);
      await Promise.all(jobs.map(async (j) => {
        const id = leafJobId(runKey, j.node.id);
        nodeOf.set(id, j.node.id);
        let job: Job | undefined = await queue.getJob(id);
        if (job) {
          const state = await job.getState();
          if (state === 'failed') {
            log(`leaf ${j.node.id}: job ${id} had failed (${job.failedReason}); queued again`);
            await job.remove();
            job = undefined;
          } else {
            log(`leaf ${j.node.id}: reattached to job ${id} (${state})`);
          }
        }
        if (!job) {
          const data: TrainLeafJob = {
            v: JOB_VERSION, store: o.store, config: jobConfig(o.config),
            node: { id: j.node.id, mask: getSpace(o.config.space).maskToString(j.node.mask), fromEpoch: j.node.fromEpoch, toEpoch: j.node.toEpoch, restartedAt: j.node.restartedAt },
            progress: j.progress,
            ...(o.failNodes?.includes(j.node.id) ? { fail: true } : {}),
          };
          job = await queue.add('train-leaf', data, {
            jobId: id, attempts: 2, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: false, removeOnFail: false,
          });
        }
        try {
          const result = await job.waitUntilFinished(events) as LeafResult;
          await chain(() => ctx.onResult(result));
          // recorded in state.json: the job has served its purpose
          await job.remove().catch(() => {});
        } catch (e) {
          const msg = (e as Error).message;
          log(`leaf ${j.node.id}: failed (${msg}); the other leaves go on`);
          failed.push({ node: j.node.id, error: msg });
        }
      }));
      await saving;
      if (saveError) throw saveError;
    } finally {
      await events.close();
      await queue.close();
    }
    return { failed: failed.sort((a, b) => a.node - b.node) };
  };
}
