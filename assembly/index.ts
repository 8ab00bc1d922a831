// Entry point of gmnas.wasm: CPU-side combinatorics of GM-NAS (graph cut, edge choice, successive
// halving). All arrays travel through linear memory; see scratch.ts for the calling convention.
export { scratchBase, reserveScratch } from './scratch';
export { MAX_ITEMS, balancedMinCut, chooseSplitEdge, lastPartitionsVisited } from './mincut';
export { halvingKeepCount, halvingRoundsToOne, halvingSchedule, reduceCurves, rankCandidates } from './halving';
