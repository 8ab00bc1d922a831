// Where a run folder's checkpoints are. A local run keeps them in RUN/checkpoints; a run started with
// `--queue --store DIR` keeps them in the shared store, and its run folder records where in
// queue-store.json ({ checkpointRoot, store }: the folder holding checkpoints/, and the store root or
// null when the store is the run folder). Everything that reads a finished or stopped run's
// checkpoints (`rank`, `verify`, a resume) goes through here, so none of them looks in the wrong
// place. Node only; written by src/pool/queue-search.ts.
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { readJsonFile } from '../io/fs.js';

export const STORE_RECORD = 'queue-store.json';

export interface StoreRecord {
  /** absolute folder holding checkpoints/ (as the coordinator saw it) */
  checkpointRoot: string;
  /** the --store root (absolute), or null when the checkpoints stayed in the run folder */
  store: string | null;
}

/** The run's queue-store.json, or null for a local run; a malformed record is an error naming it. */
export function readStoreRecord(runDir: string): StoreRecord | null {
  const path = join(resolve(runDir), STORE_RECORD);
  if (!existsSync(path)) return null;
  const rec = readJsonFile(path, 'queue store record') as Partial<StoreRecord> | null;
  if (typeof rec !== 'object' || rec === null || typeof rec.checkpointRoot !== 'string' || !isAbsolute(rec.checkpointRoot) ||
    !(rec.store === null || (typeof rec.store === 'string' && isAbsolute(rec.store)))) {
    throw new Error(`${path}: not a queue store record (expected {"checkpointRoot": absolute path, "store": absolute path or null})`);
  }
  return { checkpointRoot: rec.checkpointRoot, store: rec.store };
}

/** The folder holding the run's checkpoints/: the shared store's when queue-store.json says so. */
export function runCheckpointRoot(runDir: string): string {
  return readStoreRecord(runDir)?.checkpointRoot ?? resolve(runDir);
}
