// What `--queue URL [--store DIR]` changes in a search: the run store (checkpoints in the shared folder,
// SHA-256-checked; state and results in the run folder) and the leaf runner (jobs on the queue).
// Checkpoint layout: without --store, <run folder>/checkpoints as in a local run; with --store DIR,
// DIR/gmnas-<run folder name>-<hash of its path>/checkpoints, so several runs can share one store.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import type { SearchConfig } from '../nas/config.js';
import type { LeafRunner, RunState } from '../nas/search.js';
import type { ProgressListener } from '../nas/phases.js';
import { parseQueueUrl } from './queue-connection.js';
import { queueLeafRunner, runKeyOf } from './queue-runner.js';
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

export function queuedSearchSetup(o: QueuedSearchOptions): { store: SharedStore; leafRunner: LeafRunner } {
  const target = parseQueueUrl(o.queue);
  const outDir = resolve(o.outDir);
  const root = o.store === null ? outDir : resolve(o.store);
  if (o.store !== null) checkStoreVisible(root, '--store');
  const checkpointRoot = o.store === null ? outDir
    : join(root, `gmnas-${basename(outDir)}-${createHash('sha256').update(outDir).digest('hex').slice(0, 8)}`);
  mkdirSync(join(checkpointRoot, 'checkpoints'), { recursive: true });
  mkdirSync(outDir, { recursive: true });
  const store = new SharedStore(outDir, checkpointRoot);
  const leafRunner = queueLeafRunner({
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
  });
  return { store, leafRunner };
}
