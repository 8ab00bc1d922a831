// `rank --queue URL [--store DIR]`: the leaves of a finished run scored on queue workers, one rank-leaf job
// per leaf (src/nas/rank.ts's LeafRanker), with the same numbers as a local `rank` (the workers run
// rankLeaves, the local code's own scorer). The leaf checkpoints must be in a folder the workers see:
// where the run's queue-store.json puts them (a search started with --queue --store), or the run folder.
// `--store DIR` is this machine's mount of that store when it differs from the recorded path.
import { createHash } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import type { SearchConfig } from '../nas/config.js';
import type { SearchResult } from '../nas/search.js';
import type { LeafRanker, LeafRankOutput } from '../nas/rank.js';
import { readStoreRecord } from '../nas/run-location.js';
import { getSpace } from '../spaces/registry.js';
import type { QueueTarget } from './queue-connection.js';
import { isInside, JOB_VERSION, jobConfig, type JobStore, type RankLeafJob } from './queue-jobs.js';
import { QueueClient } from './queue-client.js';
import { checkStoreVisible } from './shared-store.js';

/**
 * Where a run's checkpoints are, as a job names them: the store root and the run's folder in it, and
 * the folder holding checkpoints/ on this machine. `storeFlag`: this machine's mount of the run's store
 * (absolute), or null for the recorded path. Throws naming the folders when the workers could not be
 * told a path inside a store.
 */
export function rankStore(runDir: string, storeFlag: string | null): { store: JobStore; checkpointRoot: string } {
  const run = resolve(runDir);
  const rec = readStoreRecord(run);
  let root: string, checkpointRoot: string;
  if (rec && rec.store !== null) {
    // a search started with --queue --store: its folder inside the store, mounted here at storeFlag or where recorded
    root = storeFlag ?? rec.store;
    checkpointRoot = storeFlag === null ? rec.checkpointRoot : join(storeFlag, relative(rec.store, rec.checkpointRoot));
  } else {
    checkpointRoot = rec?.checkpointRoot ?? run;
    root = storeFlag ?? checkpointRoot;
    if (!isInside(root, checkpointRoot)) {
      throw new Error(`--store ${root}: the run's checkpoints are in ${join(checkpointRoot, 'checkpoints')}, outside that store; ` +
        'drop --store and let the workers see the run folder at that path (or give --store a folder that holds the run folder)');
    }
  }
  checkStoreVisible(join(checkpointRoot, 'checkpoints'), 'the run\'s checkpoint folder');
  return { store: { root, dir: relative(root, checkpointRoot) || '.' }, checkpointRoot };
}

export interface QueueRankOptions {
  target: QueueTarget;
  runDir: string;
  config: SearchConfig;
  store: JobStore;
  /** the run's result.dataset: each worker checks that its data match */
  dataset: SearchResult['dataset'] | null;
  onLog?: (line: string) => void;
}

export function queueLeafRanker(o: QueueRankOptions): LeafRanker {
  const log = o.onLog ?? (() => {});
  const space = getSpace(o.config.space);
  return async (leaves, settings, ctx) => {
    const config = jobConfig(o.config);
    const client = await QueueClient.open(o.target, log);
    try {
      log(`queue ${o.target.display}: ${leaves.length} rank-leaf job(s) (scored by \`node run.js worker --queue ${o.target.display.replace(/ \(with password\)$/, '')}\` processes)`);
      const settled = await Promise.allSettled(leaves.map((leaf) => {
        const data: RankLeafJob = {
          v: JOB_VERSION, store: o.store, config, node: { id: leaf.node, mask: space.maskToString(leaf.mask) },
          archs: leaf.archs.map((a) => a.arch), rank: settings, dataset: o.dataset,
        };
        // the same ranking again (same run, genotypes and settings) reattaches to the same jobs
        const key = createHash('sha256').update(JSON.stringify([resolve(o.runDir), o.store, data.archs, settings])).digest('hex').slice(0, 16);
        let scored = 0;
        return client.run<LeafRankOutput>(`gmnas-rank-${key}-leaf-${leaf.node}`, 'rank-leaf', data, {
          what: `rank leaf ${leaf.node}`, onStalledNote: 'starts again on another worker',
          onProgress: (m) => {
            const done = m && m.kind === 'step' ? (m.event as { done?: number }).done ?? 0 : 0;
            while (scored < Math.min(done, leaf.archs.length)) { scored++; ctx.onScored(leaf.node); }
          },
        }).then((out) => {
          while (scored < leaf.archs.length) { scored++; ctx.onScored(leaf.node); }
          return out;
        });
      }));
      const bad = settled.findIndex((s) => s.status === 'rejected');
      if (bad >= 0) throw new Error(`rank: leaf ${leaves[bad].node}'s job failed on the queue: ${((settled[bad] as PromiseRejectedResult).reason as Error).message}`);
      return settled.map((s) => (s as PromiseFulfilledResult<LeafRankOutput>).value);
    } finally {
      await client.close();
    }
  };
}
