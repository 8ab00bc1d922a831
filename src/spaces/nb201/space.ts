// NAS-Bench-201 as a SearchSpace (src/spaces/space.ts): six edge decisions of five ops each, all 15
// search cells sharing one 6×5 α; GM splits by spec §3 (every unsplit edge a candidate, θ_o at
// weight 1, 2+3 groups, the edge of largest cut distance). Everything here wires the NB201 modules
// that already exist; nothing is recomputed differently, so results are those of the NB201 code.
import type { Tensor, Backend, Rng as EngineRng } from '../../engine/index.js';
import type { SearchSpace, Decision, OpMask, Genotype, ArchSample, SpaceNetwork, SpaceSupernet, SplitRules } from '../space.js';
import {
  NB201_OPS, NB201_EDGES, NUM_EDGES, NUM_OPS, fullMask, assertOpMask, maskToString, parseMask, enabledOps, restrictMask,
  countAdmitted, unsplitEdges, maskAdmits,
} from './ops.js';
import { parseGenotype, formatGenotype } from './genotype.js';
import { Nb201Supernet, singlePathSample, mixedSample, replaceEdgeOp } from './supernet.js';
import { Nb201Network } from './network.js';
import { sampleConnected, connectedGenotypes, isConnected } from './connectivity.js';
import {
  encodeNetworkCheckpoint, decodeNetworkCheckpoint, loadNetworkInto, NETWORK_FORMAT, SUPERNET_FORMAT, supernetMetadata,
  encodeSupernetCheckpoint, decodeSupernetCheckpoint,
} from './checkpoint.js';
import type { SafetensorsInput } from '../../io/safetensors.js';
import { parseBenchCsv } from './bench-table.js';

const decisions: readonly Decision[] = Object.freeze(NB201_EDGES.map((e) => Object.freeze({ index: e.eid, key: e.key, group: 'cell', ops: NB201_OPS })));

const split: SplitRules = Object.freeze({
  candidates: (mask: OpMask) => unsplitEdges(mask),
  splitWeight: 'one' as const,
  // as equal as possible, smaller groups first (2+3 for two branches)
  groupSizes: (ops: number, branches: number) => {
    const small = Math.floor(ops / branches), large = ops % branches;
    return [[...Array<number>(branches - large).fill(small), ...Array<number>(large).fill(small + 1)]];
  },
  edgeCriterion: 'max-cut' as const,
});

function argmaxGenotype(alpha: ArrayLike<number>, mask: OpMask): Genotype {
  assertOpMask(mask);
  if (alpha.length !== NUM_EDGES * NUM_OPS) throw new Error(`nb201 derive: expected ${NUM_EDGES * NUM_OPS} α values, got ${alpha.length}`);
  // per edge the enabled op of largest α, 'none' included (spec §1.1), first on ties
  return Array.from({ length: NUM_EDGES }, (_, e) => {
    let best = -1;
    for (const o of enabledOps(mask, e)) {
      const v = alpha[e * NUM_OPS + o];
      if (Number.isNaN(v)) throw new Error(`nb201 derive: α of edge ${e}, op ${o} is NaN`);
      if (best < 0 || v > alpha[e * NUM_OPS + best]) best = o;
    }
    return best;
  });
}

export const nb201Space: SearchSpace = Object.freeze({
  name: 'nb201',
  title: 'NAS-Bench-201',
  describeSize: ({ C, N }: { C: number; N: number }, sep = '='): string => `C${sep}${C} N${sep}${N}`,
  decisions,
  rows: NUM_EDGES,
  cols: NUM_OPS,
  groups: ['cell'],
  fullMask,
  assertMask: assertOpMask,
  maskToString,
  parseMask,
  enabledOps,
  restrictMask,
  countAdmitted,
  unsplit: unsplitEdges,
  maskAdmits,
  buildSupernet: (be: Backend, rng: EngineRng, o: ConstructorParameters<typeof Nb201Supernet>[2]) => new Nb201Supernet(be, rng, o),
  buildNetwork: (be: Backend, rng: EngineRng, o: ConstructorParameters<typeof Nb201Network>[2]) => new Nb201Network(be, rng, o),
  networkDefaults: { C: 16, N: 5 },
  parseGenotype,
  formatGenotype,
  derive: argmaxGenotype,
  singlePathSample,
  sampleSinglePath: (rng: { next(): number }, mask: OpMask) => sampleConnected(rng, mask),
  countSinglePaths: (mask: OpMask) => connectedGenotypes(mask).length,
  isValidSinglePath: isConnected,
  mixedSample,
  replaceDecisionOp: (sample: ArchSample, decision: number, op: number, keepWeight = false): ArchSample =>
    keepWeight ? keepSampledWeight(sample, decision, op) : replaceEdgeOp(sample, decision, op),
  split,
  checkpointFormats: { network: NETWORK_FORMAT, supernet: SUPERNET_FORMAT },
  encodeNetwork: (net: SpaceNetwork, metadata?: Record<string, string>) => encodeNetworkCheckpoint(asNb201Network(net), metadata),
  decodeNetwork: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) => decodeNetworkCheckpoint(be, rng, bytes, source),
  loadNetworkInto: (net: SpaceNetwork, bytes: Uint8Array, source: string) => loadNetworkInto(asNb201Network(net), bytes, source),
  supernetMetadata: (sn: SpaceSupernet, extra?: Record<string, string>) => supernetMetadata(asNb201Supernet(sn), extra),
  encodeSupernet: (sn: SpaceSupernet, extra?: SafetensorsInput[], metadata?: Record<string, string>) => encodeSupernetCheckpoint(asNb201Supernet(sn), extra, metadata),
  decodeSupernet: (be: Backend, rng: EngineRng, bytes: Uint8Array, source: string) => decodeSupernetCheckpoint(be, rng, bytes, source),
  parseBenchTable: parseBenchCsv,
});

function asNb201Supernet(sn: SpaceSupernet): Nb201Supernet {
  if (!(sn instanceof Nb201Supernet)) throw new Error('nb201: expected a supernet built by the nb201 space');
  return sn;
}

function asNb201Network(net: SpaceNetwork): Nb201Network {
  if (!(net instanceof Nb201Network)) throw new Error('nb201: expected a network built by the nb201 space');
  return net;
}

/** `sample` with `decision` running only `op`, at the weight the sample already gave it. */
export function keepSampledWeight(sample: ArchSample, decision: number, op: number): ArchSample {
  const ops = sample.ops.map((o, e) => (e === decision ? [op] : o));
  const weightOnly = sample.weightOnly?.map((o, e) => (e === decision ? [] : o));
  const weights: Tensor | null = sample.weights;
  return { ops, weights, ...(weightOnly ? { weightOnly } : {}) };
}
