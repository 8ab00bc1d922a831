// The coordinator's side of any queued work (a search's leaves, its halving rounds and retraining, a
// `rank --queue`): put a job on the BullMQ queue under a deterministic id — or reattach to the one
// already there — follow its progress, and wait for its result.
//
// Deterministic ids make a restarted coordinator find its jobs: one waiting or running is reattached (not
// queued twice), one finished while the coordinator was down gives its result at once, one that had
// failed is queued again. A job is tried twice (attempts: 2, fixed backoff 0.5 s); a worker's rejection
// (bad job, store not visible) fails it at once. A finished job is removed once its result is recorded;
// failed ones stay for inspection until queued again.
import { Queue, QueueEvents, type Job } from 'bullmq';
import { QUEUE_NAME, bullConnection, type QueueTarget } from './queue-connection.js';
import type { JobData, JobKind } from './queue-jobs.js';
import type { JobProgressMessage } from './queue-worker.js';

export interface JobWatch {
  /** names the job in log lines, e.g. 'leaf 3' */
  what: string;
  /** what happens to the work when its worker dies (after "its worker stopped answering; job … is back on the queue and") */
  onStalledNote: string;
  onProgress?: (m: JobProgressMessage) => void;
  /** called with the result before the job is removed from the queue (e.g. written into state.json) */
  record?: (result: unknown) => Promise<void>;
}

export class QueueClient {
  private readonly watches = new Map<string, JobWatch>();

  private constructor(private readonly queue: Queue, private readonly events: QueueEvents, private readonly log: (line: string) => void) {}

  static async open(target: QueueTarget, log: (line: string) => void): Promise<QueueClient> {
    const connection = bullConnection(target);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    const client = new QueueClient(queue, events, log);
    events.on('progress', ({ jobId, data }) => client.watches.get(jobId)?.onProgress?.(data as JobProgressMessage));
    events.on('stalled', ({ jobId }) => {
      const w = client.watches.get(jobId);
      if (w) log(`${w.what}: its worker stopped answering; job ${jobId} is back on the queue and ${w.onStalledNote}`);
    });
    events.on('waiting', ({ jobId, prev }) => {
      const w = client.watches.get(jobId);
      if (prev === 'failed' && w) log(`${w.what}: job failed once; retrying`);
    });
    events.on('error', (e) => log(`queue events: ${e.message}`));
    queue.on('error', (e) => log(`queue: ${e.message}`));
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  /** Queue `data` as job `id` of kind `name` (or reattach to it) and wait for its result; throws with the job's failure reason. */
  async run<T>(id: string, name: JobKind, data: JobData, watch: JobWatch): Promise<T> {
    this.watches.set(id, watch);
    try {
      let job: Job | undefined = await this.queue.getJob(id);
      if (job) {
        const state = await job.getState();
        if (state === 'failed') {
          this.log(`${watch.what}: job ${id} had failed (${job.failedReason}); queued again`);
          await job.remove();
          job = undefined;
        } else {
          this.log(`${watch.what}: reattached to job ${id} (${state})`);
        }
      }
      job ??= await this.queue.add(name, data, {
        jobId: id, attempts: 2, backoff: { type: 'fixed', delay: 500 }, removeOnComplete: false, removeOnFail: false,
      });
      const result = await job.waitUntilFinished(this.events) as T;
      await watch.record?.(result);
      // recorded: the job has served its purpose
      await job.remove().catch(() => {});
      return result;
    } finally {
      this.watches.delete(id);
    }
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.queue.close();
  }
}
