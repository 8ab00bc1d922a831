// The coordinator's side of a queued search: a LeafRunner (src/nas/search.ts) that puts one train-leaf
// job per pending leaf on the BullMQ queue instead of training them on the local piscina pool, follows
// their progress (a bar per job; every finished epoch goes into state.json as in a local run) and
// collects their results; and a GenotypeTrainer that runs the halving rounds' trainings (a round's
// candidates at once) and the final retraining as train-genotype jobs.
//
// Job ids are deterministic — `gmnas-<run key>-leaf-<node>`, `…-halving-leaf-<node>-e<epochs>`,
// `…-retrain-leaf-<node>-e<epochs>`, the run key a hash of the run folder and its start time
// (state.json) — so a coordinator restarted with --resume finds its jobs (queue-client.ts). A leaf job
// that fails twice goes to failedLeaves; a genotype job that fails twice fails the selection (as a
// local training error would), naming the leaf.
import { createHash } from 'node:crypto';
import type { LeafRunner } from '../nas/search.js';
import type { LeafResult, ProgressEvent, ProgressListener } from '../nas/phases.js';
import type { SearchConfig } from '../nas/config.js';
import type { GenotypeTask, GenotypeTaskResult, GenotypeTrainer } from '../nas/genotype-training.js';
import { getSpace } from '../spaces/registry.js';
import type { QueueTarget } from './queue-connection.js';
import { JOB_VERSION, jobConfig, type JobStore, type TrainGenotypeJob, type TrainLeafJob } from './queue-jobs.js';
import { QueueClient } from './queue-client.js';

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
export const genotypeJobId = (runKey: string, t: GenotypeTask): string => `gmnas-${runKey}-${t.purpose}-leaf-${t.node}-e${t.epochs}`;

export function queueLeafRunner(o: QueueRunnerOptions): LeafRunner {
  const log = o.onLog ?? (() => {});
  return async (jobs, ctx) => {
    const runKey = await o.runKey();
    const client = await QueueClient.open(o.target, log);
    // epochs and results go to state.json one at a time, in the order they arrive
    let saving: Promise<void> = Promise.resolve();
    let saveError: Error | null = null;
    const chain = (fn: () => Promise<void>): Promise<void> => {
      saving = saving.then(fn).catch((e: Error) => { saveError ??= e; });
      return saving;
    };
    const failed: { node: number; error: string }[] = [];
    try {
      log(`queue ${o.target.display}: ${jobs.length} leaf job(s) for run ${runKey} (trained by \`node run.js worker --queue ${o.target.display.replace(/ \(with password\)$/, '')}\` processes)`);
      await Promise.all(jobs.map(async (j) => {
        const data: TrainLeafJob = {
          v: JOB_VERSION, store: o.store, config: jobConfig(o.config),
          node: { id: j.node.id, mask: getSpace(o.config.space).maskToString(j.node.mask), fromEpoch: j.node.fromEpoch, toEpoch: j.node.toEpoch, restartedAt: j.node.restartedAt },
          progress: j.progress,
          ...(o.failNodes?.includes(j.node.id) ? { fail: true } : {}),
        };
        try {
          await client.run<LeafResult>(leafJobId(runKey, j.node.id), 'train-leaf', data, {
            what: `leaf ${j.node.id}`, onStalledNote: 'resumes from the last epoch checkpoint',
            onProgress: (m) => {
              if (m && m.kind === 'epoch') void chain(() => ctx.onEpochSaved(j.node.id, m.progress));
              else if (m && m.kind === 'step') o.onProgress?.(m.event as ProgressEvent);
            },
            record: (result) => chain(() => ctx.onResult(result as LeafResult)),
          });
        } catch (e) {
          const msg = (e as Error).message;
          log(`leaf ${j.node.id}: failed (${msg}); the other leaves go on`);
          failed.push({ node: j.node.id, error: msg });
        }
      }));
      await saving;
      if (saveError) throw saveError;
    } finally {
      await client.close();
    }
    return { failed: failed.sort((a, b) => a.node - b.node) };
  };
}

/** The halving rounds' and the final retraining's trainings as train-genotype jobs, a call's tasks at once. */
export function queueGenotypeTrainer(o: QueueRunnerOptions): GenotypeTrainer {
  const log = o.onLog ?? (() => {});
  return async (tasks) => {
    const runKey = await o.runKey();
    const client = await QueueClient.open(o.target, log);
    try {
      log(`queue ${o.target.display}: ${tasks.length} train-genotype job(s) (${tasks[0]?.purpose ?? 'none'})`);
      const settled = await Promise.allSettled(tasks.map((task) => {
        const data: TrainGenotypeJob = { v: JOB_VERSION, store: o.store, config: jobConfig(o.config), task };
        return client.run<GenotypeTaskResult>(genotypeJobId(runKey, task), 'train-genotype', data, {
          what: `${task.purpose} leaf ${task.node}`, onStalledNote: 'starts again on another worker',
          onProgress: (m) => { if (m && m.kind === 'step') o.onProgress?.(m.event as ProgressEvent); },
        });
      }));
      const bad = settled.findIndex((s) => s.status === 'rejected');
      if (bad >= 0) {
        const t = tasks[bad];
        throw new Error(`${t.purpose === 'halving' ? '--select halving' : 'retrain'}: training leaf ${t.node}'s genotype on the queue failed: ${((settled[bad] as PromiseRejectedResult).reason as Error).message}`);
      }
      return settled.map((s) => (s as PromiseFulfilledResult<GenotypeTaskResult>).value);
    } finally {
      await client.close();
    }
  };
}
