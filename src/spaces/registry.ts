// The search spaces by name. Code above src/spaces gets a space here and uses only the SearchSpace
// interface (src/spaces/space.ts); docs/spaces.md says how to add one.
import type { SearchSpace } from './space.js';
import { nb201Space } from './nb201/space.js';
import { dartsSpace, dartsNoneSpace } from './darts/space.js';
import { mobilenetSpace } from './mobilenet/space.js';

const SPACES: ReadonlyMap<string, SearchSpace> = new Map([
  [nb201Space.name, nb201Space],
  [dartsSpace.name, dartsSpace],
  [dartsNoneSpace.name, dartsNoneSpace],
  [mobilenetSpace.name, mobilenetSpace],
]);

/** Names `getSpace` accepts, in registration order. */
export const SPACE_NAMES: readonly string[] = Object.freeze([...SPACES.keys()]);

/** The space a search or a command uses when none is named. */
export const DEFAULT_SPACE_NAME = 'nb201';

/** The space called `name`; throws naming the known spaces. */
export function getSpace(name: string = DEFAULT_SPACE_NAME): SearchSpace {
  const s = SPACES.get(name);
  if (!s) throw new Error(`unknown search space '${name}' (available: ${SPACE_NAMES.join(', ')})`);
  return s;
}

export type { SearchSpace, OpMask, Genotype, ArchSample, SpaceSupernet, SpaceNetwork, Decision, SpaceSizes, LatencyProbe, LatencyProbes } from './space.js';
/** The benchmark-table type (NB201's CSV layout, keyed by a space's genotype string). */
export type { BenchTable } from './nb201/bench-table.js';
export { describeSize } from './space.js';
