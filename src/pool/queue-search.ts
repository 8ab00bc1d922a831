// What `--queue URL [--store DIR]` changes in a search: the run store (checkpoints in the shared folder,
// SHA-256-checked; state and results in the run folder), the leaf runner and the genotype trainer (the
// halving rounds and the final retraining): jobs on the queue.
// Checkpoint layout: without --store, <run folder>/checkpoints as in a local run; with --store DIR,
// DIR/gmnas-<run folder name>-<hash of its path>/checkpoints, so several runs can share one store.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../io/fs.js';
import { basename, join, relative, resolve } from 'node:path';
import type { SearchConfig } from '../nas/config.js';
import type { LeafRunner, RunState } from '../nas/search.js';
import type { GenotypeTrainer } from '../nas/genotype-training.js';
import type { ProgressListener } from '../nas/phases.js';
import { STORE_RECORD, readStoreRecord } from '../nas/run-location.js';
import { parseQueueUrl } from './queue-connection.js';
import { queueGenotypeTrainer, queueLeafRunner, runKeyOf, type QueueRunnerOptions } from './queue-runner.js';
import { SharedStore, checkStoreVisible } from './shared-store.js';

export interface QueuedSearchOptions {
  queue: string;
  /** --store, or null: the run folder */
  store: string | null;
  outDir: string;
  config: SearchConfig;
  onProgress?: ProgressListener;
  onLog?: (line: string) => void;
  failNodes?: number[];
}

/**
 * A run started with --queue --store keeps its checkpoints where queue-store.json says; resuming it
 * without them (no --queue, or another --store) would find no checkpoints and silently retrain from fresh
 * weights. Call before resuming; throws naming both places.
 */
export function checkResumeStore(outDir: string, queued: { checkpointRoot: string } | null): void {
  const rec = readStoreRecord(outDir);
  if (!rec) return;
  if (!queued && rec.checkpointRoot === resolve(outDir)) return; // checkpoints in the run folder: a local resume finds them
  if (!queued) throw new Error(`--resume: this run was started with --queue; its checkpoints are in ${rec.checkpointRoot}. Resume it with --queue URL${rec.store ? ` --store ${rec.store}` : ''}`);
  if (resolve(queued.checkpointRoot) !== rec.checkpointRoot) {
    throw new Error(`--resume: this run's checkpoints are in ${rec.checkpointRoot}, not ${queued.checkpointRoot}; give the --store it started with${rec.store ? ` (${rec.store})` : ' (none)'}`);
  }
}

export function queuedSearchSetup(o: QueuedSearchOptions): { store: SharedStore; leafRunner: LeafRunner; genotypeTrainer: GenotypeTrainer; checkpointRoot: string } {
  const target = parseQueueUrl(o.queue);
  const outDir = resolve(o.outDir);
  const root = o.store === null ? outDir : resolve(o.store);
  if (o.store !== null) checkStoreVisible(root, '--store');
  const checkpointRoot = o.store === null ? outDir
    : join(root, `gmnas-${basename(outDir)}-${createHash('sha256').update(outDir).digest('hex').slice(0, 8)}`);
  checkResumeStore(outDir, { checkpointRoot });
  mkdirSync(join(checkpointRoot, 'checkpoints'), { recursive: true });
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(join(outDir, STORE_RECORD), `${JSON.stringify({ checkpointRoot, store: o.store === null ? null : root }, null, 1)}\n`);
  const store = new SharedStore(outDir, checkpointRoot);
  const runner: QueueRunnerOptions = {
    target, config: o.config,
    store: { root, dir: relative(root, checkpointRoot) || '.' },
    runKey: async () => {
      const st = await store.readState<RunState>();
      if (!st) throw new Error(`${outDir}: no state.json when the leaves started`);
      return runKeyOf(outDir, st.startedAt);
    },
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onLog ? { onLog: o.onLog } : {}),
    ...(o.failNodes ? { failNodes: o.failNodes } : {}),
  };
  return { store, leafRunner: queueLeafRunner(runner), genotypeTrainer: queueGenotypeTrainer(runner), checkpointRoot };
}
