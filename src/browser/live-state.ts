// What a page draws while a search runs, derived from the run state the search saves after every
// epoch, split and leaf (src/nas/search.ts RunState). Plain JSON, so it crosses postMessage as it is.
import type { EpochRecord, LeafResult } from '../nas/phases.js';
import type { RunState } from '../nas/search.js';
import type { SplitRecord } from '../nas/tree.js';

export interface LiveSearchState {
  tree: RunState['tree'];
  splits: SplitRecord[];
  /** finished leaves, by node id */
  leaves: LeafResult[];
  /** epochs done per node id */
  epochsDone: Record<number, number>;
  /** each node's epoch records so far (training loss and accuracy per epoch) */
  history: Record<number, EpochRecord[]>;
}

/** The live state of a saved run state (a deep copy: the search keeps mutating its own). */
export function liveStateOf(state: RunState): LiveSearchState {
  const s = JSON.parse(JSON.stringify(state)) as RunState;
  return {
    tree: s.tree, splits: s.splits, leaves: Object.values(s.leaves).sort((a, b) => a.node - b.node),
    epochsDone: Object.fromEntries(Object.entries(s.progress).map(([k, p]) => [Number(k), p.epochsDone])),
    history: Object.fromEntries(Object.entries(s.progress).map(([k, p]) => [Number(k), p.history])),
  };
}
