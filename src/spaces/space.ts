// The search-space interface. Everything above src/spaces (base methods, GM scores, cut, tree,
// selection, rank, report, CLI, browser) talks to a space only through `SearchSpace`; each space
// (src/spaces/<name>/) implements it and registers in registry.ts. docs/spaces.md says how to add one.
//
// Vocabulary:
//   - a *decision* is one place the search chooses an op: an edge of a cell (NB201: 6 edges; DARTS: 14
//     normal + 14 reduce edges) or a layer (MobileNet). Decisions are the rows of α and of op masks.
//   - α and masks are row-major [rows, cols] with cols = the largest op count of any decision. Rows
//     with fewer ops (ragged spaces) are padded: the padding columns are never enabled, so a masked
//     softmax gives them exactly 0 and nothing reads them.
//   - a *genotype* is one op column per decision, −1 where the architecture drops the decision (DARTS
//     keeps 2 incoming edges per node). A *single path* (RSPS) gives every decision an op.
// Browser-safe: no node: imports.
import type { Tensor, Module, Backend, Rng as EngineRng } from '../engine/index.js';
import type { SafetensorsInput, DecodedTensor } from '../io/safetensors.js';

/** Which ops each decision may still use: row-major [rows, cols], 1 = enabled (the reference's `enc`). */
export type OpMask = Uint8Array;

/** One op column per decision (−1: the decision is not part of the architecture). */
export type Genotype = readonly number[];

/**
 * What one supernet forward runs (host-side description, built by the base method):
 *  - `ops[d]`: op columns that run on decision d (others launch nothing — "ops whose weight is
 *    exactly 0 are not executed");
 *  - `weights`: an [rows, cols] device tensor of op weights (null: unit weights, a plain sum);
 *  - `weightOnly[d]`: ops whose weight is added as a constant (GDAS's straight-through rule).
 */
export interface ArchSample {
  readonly ops: readonly (readonly number[])[];
  readonly weights: Tensor | null;
  readonly weightOnly?: readonly (readonly number[])[];
}

/** One row of α. */
export interface Decision {
  /** row index */
  readonly index: number;
  /** short stable key, e.g. '3<-1' (NB201) or 'normal:2<-0' (DARTS) */
  readonly key: string;
  /** the cell / block the decision belongs to ('cell' for NB201; 'normal' / 'reduce' for DARTS) */
  readonly group: string;
  /** op names, in column order */
  readonly ops: readonly string[];
}

/** Macro sizes every space's builders take; each space documents what C and N mean for it. */
export interface SpaceSizes {
  /** channels of the first stage */
  C: number;
  /** NB201: search cells per stage; DARTS: cells (layers) in all */
  N: number;
  inputChannels: number;
  numClasses: number;
}

export interface SupernetBuildOptions extends SpaceSizes {
  /** whether the search cells' non-affine BNs track running statistics (false for RSPS) */
  trackCellStats: boolean;
  mask?: OpMask;
}

/** What the search needs of a supernet. */
export interface SpaceSupernet extends Module {
  readonly backend: Backend;
  readonly config: Readonly<Required<SupernetBuildOptions>>;
  readonly mask: OpMask;
  forward(x: Tensor, sample: ArchSample): Tensor;
  /** GM's shared parameters when scoring `decision` (−1: exclude none) */
  sharedParameters(decision: number): Tensor[];
  /** weight inheritance at a split: same sizes, masks may differ */
  copyStateFrom(source: SpaceSupernet): void;
}

export interface NetworkBuildOptions extends SpaceSizes {
  genotype: Genotype;
  /** build the auxiliary head where the space has one (DARTS); ignored elsewhere */
  auxiliary?: boolean;
}

/** A stand-alone network of one genotype. */
export interface SpaceNetwork extends Module {
  readonly backend: Backend;
  readonly config: Readonly<NetworkBuildOptions>;
  forward(x: Tensor): Tensor;
  /** logits and, while training with an auxiliary head, its logits (DARTS); absent: forward only */
  forwardTrain?(x: Tensor): { logits: Tensor; aux: Tensor | null };
  /** drop-path probability of the cells' ops while training (DARTS) */
  dropPathProb?: number;
  /** seed of the next drop-path masks (seeded runs repeat) */
  setDropPathSeed?(seed: number): void;
}

/** Stand-alone training hyper-parameters (src/search/standalone.ts trains with them). */
export interface TrainingHyper {
  epochs: number;
  batchSize: number;
  lr: number;
  lrMin: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /** 0 = no clipping (the NB201 setting) */
  gradClip: number;
  /** weight of the auxiliary head's loss (0 or absent: no auxiliary head) */
  auxWeight?: number;
  /** final drop-path probability, raised linearly from 0 over the epochs (0 or absent: none) */
  dropPathProb?: number;
  /** side of the square cut out of every training image after normalisation (0 or absent: none) */
  cutout?: number;
}

/** A space's own stand-alone training preset (`run.js train --preset <name>`). */
export interface TrainPresetSpec {
  readonly hyper: Readonly<TrainingHyper>;
  readonly channels: number;
  readonly cells: number;
  readonly trainLimit?: number;
  readonly testLimit?: number;
  readonly evalEvery: number;
}

/** A space's stand-alone evaluation protocol fitted to one search (retraining the final pick,
 *  successive halving over the leaves): the hyper-parameters without the epoch count, the network
 *  size, and what was scaled or dropped to fit the search's images and preset. */
export interface EvalProtocol {
  readonly hyper: Readonly<Omit<TrainingHyper, 'epochs'>>;
  readonly channels: number;
  readonly cells: number;
  /** one short line each: what differs from the space's paper protocol and why */
  readonly notes: readonly string[];
}

/** One phase of a reference successive-halving schedule over continuing stand-alone trainings:
 *  every alive candidate trains on to epoch `to`; its per-epoch validation accuracies of epochs
 *  [from, to) are reduced to one score; the best ⌈alive/2⌉ go on. */
export interface HalvingPhase {
  readonly from: number;
  readonly to: number;
}

/** A space's successive-halving selection (GM's successive_halving.py for DARTS), in epochs of one
 *  continuing training per candidate with a cosine of `horizon` epochs. */
export interface HalvingProtocol {
  readonly horizon: number;
  readonly phases: readonly HalvingPhase[];
  /** how a phase's accuracies become a score (GM: its moving average) */
  readonly reduction: 'last' | 'mean' | 'best' | 'gm-moving-average';
}

/** How GM / random splits work in this space (spec §3 for NB201, §5.1 for DARTS). */
export interface SplitRules {
  /** decisions a node may split: unsplit ones, restricted as the space's rules say */
  candidates(mask: OpMask): number[];
  /** the split decision's op weight in GM's θ_o: 'one' (NB201, `--hard 1`) or 'sample' (DARTS keeps
   *  the op's softmax/Gumbel weight) */
  splitWeight: 'one' | 'sample';
  /** default group-size choices for `branches` children of a decision with `ops` ops; the cut picks
   *  the best partition over all listed size tuples */
  groupSizes(ops: number, branches: number): number[][];
  /** default edge criterion: NB201 the largest cut distance, DARTS the smallest intra distance */
  edgeCriterion: 'max-cut' | 'min-intra';
}

/** One cell of a genotype as a DAG: inputs, intermediate nodes in order, the output node. */
export interface CellDag {
  readonly group: string;
  readonly inputs: readonly string[];
  readonly nodes: readonly string[];
  readonly output: string;
  readonly edges: readonly { readonly from: string; readonly to: string; readonly op: string }[];
}

/** A benchmark table: accuracy by genotype string (NB201's CSV layout; any space may use it). */
export type { BenchTable } from './nb201/bench-table.js';
import type { BenchTable } from './nb201/bench-table.js';

export interface SearchSpace {
  /** registry name ('nb201', 'darts', …) */
  readonly name: string;
  /** human title for reports */
  readonly title: string;
  readonly decisions: readonly Decision[];
  /** α / mask shape [rows, cols] */
  readonly rows: number;
  readonly cols: number;
  /** decision groups in display order (one heatmap / DAG per group) */
  readonly groups: readonly string[];

  // ---- masks ----
  fullMask(): OpMask;
  assertMask(mask: OpMask, what?: string): void;
  maskToString(mask: OpMask): string;
  parseMask(text: string): OpMask;
  enabledOps(mask: OpMask, decision: number): number[];
  restrictMask(mask: OpMask, decision: number, ops: readonly number[]): OpMask;
  /** architectures the mask admits (a count; may be a float for huge spaces) */
  countAdmitted(mask: OpMask): number;
  /** decisions that still enable all of their ops */
  unsplit(mask: OpMask): number[];
  /** whether every op of a genotype (or single path) is enabled */
  maskAdmits(mask: OpMask, g: Genotype): boolean;

  // ---- builders ----
  buildSupernet(be: Backend, rng: EngineRng, o: SupernetBuildOptions): SpaceSupernet;
  buildNetwork(be: Backend, rng: EngineRng, o: NetworkBuildOptions): SpaceNetwork;
  /** default stand-alone sizes (NB201: C=16 N=5; DARTS: C=36, 20 cells) */
  readonly networkDefaults: { C: number; N: number };
  /** stand-alone training presets of the space's papers, by name, the first the default (absent:
   *  the CLI's NB201 presets) */
  readonly trainPresets?: Readonly<Record<string, TrainPresetSpec>>;

  // ---- genotypes ----
  parseGenotype(text: string): Genotype;
  formatGenotype(g: Genotype): string;
  /** the architecture of a leaf from its α (row-major [rows, cols]) under its mask */
  derive(alpha: ArrayLike<number>, mask: OpMask): Genotype;

  // ---- single paths (RSPS, rank) ----
  /** one op per decision, unit weights */
  singlePathSample(g: Genotype): ArchSample;
  /** a uniformly drawn valid single path admitted by the mask */
  sampleSinglePath(rng: { next(): number }, mask: OpMask): Genotype;
  /** how many valid single paths the mask admits (Infinity when too many to count) */
  countSinglePaths(mask: OpMask): number;
  /** whether a single path is valid (NB201: the output is connected) */
  isValidSinglePath(g: Genotype): boolean;

  // ---- samples ----
  /** every enabled op, weighted by `weights` [rows, cols] */
  mixedSample(mask: OpMask, weights: Tensor): ArchSample;
  /** `sample` with `decision` running `op` alone: at weight 1, or at its sampled weight (rules.splitWeight) */
  replaceDecisionOp(sample: ArchSample, decision: number, op: number, keepWeight?: boolean): ArchSample;

  // ---- GM ----
  readonly split: SplitRules;

  // ---- search settings of the space's papers (absent: the NB201 ones in src/nas/config.ts) ----
  /** preset fields of a search (channels, cells, batchSize, splitEpochs, totalEpochs, …) by preset
   *  name, for a base method and search method */
  searchPreset?(preset: string, base: string, method: string): Record<string, unknown> | null;
  /** overrides of a base method's hyper-parameters in this space (weight decay, nesterov, τ, α init) */
  methodHyper?(base: string): Record<string, number | boolean>;
  /** changes to the search's final stand-alone retraining recipe (src/nas/retrain.ts RETRAIN_HYPER,
   *  NB201's) for this space (absent: the recipe as it is) */
  readonly retrainHyper?: Readonly<Partial<TrainingHyper>>;
  /** the base method a search uses when none is given (absent: darts; darts2 with the paper preset) */
  readonly defaultBase?: string;
  /** the network size in the space's own words for run headers and protocol texts: NB201/DARTS
   *  `C=8 N=1`, MobileNet `width=0.25` (`sep` joins name and value: '=' or ' '). Read it through
   *  describeSize() below, which falls back to C and N for spaces without it */
  describeSize?(sizes: { C: number; N: number }, sep?: string): string;
  /** the interface's C for a width multiplier (`--width-mult`; absent: the space has none, use
   *  --channels); throws when the multiplier gives no valid C */
  channelsForWidthMult?(widthMult: number): number;

  // ---- evaluation of architectures (absent: NB201's stand-alone recipe, src/nas/retrain.ts) ----
  /** the space's evaluation protocol for a search of `preset` on images of `imageShape` whose
   *  supernet has `sizes` (retraining the pick, successive halving) */
  evalProtocol?(preset: string, imageShape: readonly number[], sizes: { C: number; N: number }): EvalProtocol;
  /** the reference's successive-halving schedule, its epochs scaled so that the first phase lasts
   *  `firstPhaseEpochs` (absent: the generic schedule of src/nas/search.ts) */
  halvingProtocol?(firstPhaseEpochs: number): HalvingProtocol;

  // ---- checkpoints ----
  /** format tags written in checkpoint metadata */
  readonly checkpointFormats: { network: string; supernet: string };
  encodeNetwork(net: SpaceNetwork, metadata?: Record<string, string>): Promise<Uint8Array>;
  decodeNetwork(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string): { network: SpaceNetwork; metadata: Record<string, string> };
  loadNetworkInto(net: SpaceNetwork, bytes: Uint8Array, source: string): Record<string, string>;
  /** metadata strings that rebuild a supernet (format, mask, sizes) */
  supernetMetadata(s: SpaceSupernet, extra?: Record<string, string>): Record<string, string>;
  /** a supernet checkpoint; `extra` tensors (α, optimizer state) are appended under their own names */
  encodeSupernet(s: SpaceSupernet, extra?: SafetensorsInput[], metadata?: Record<string, string>): Promise<Uint8Array>;
  decodeSupernet(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string): { supernet: SpaceSupernet; metadata: Record<string, string>; extra: Map<string, DecodedTensor> };

  /** parameters and multiply-adds of a genotype's stand-alone network on square inputs of side
   *  `resolution` (absent: no cost model, so --max-flops / --max-params do not apply) */
  cost?(g: Genotype, sizes: SpaceSizes, resolution: number): { params: number; macs: number };
  /** multiply-adds split by decision, so that cost(g).macs = fixed + Σ_d ops[d][g[d]] for every single
   *  path g: `ops` is [rows][cols], NaN on columns a decision cannot take (absent: no expected-FLOPs
   *  loss, --flops-target) */
  opMacs?(sizes: SpaceSizes, resolution: number): { fixed: number; ops: number[][] };

  /** what a latency lookup table times (src/nas/latency-table.ts, `--latency-target`): the parts every
   *  network has (`fixed`) and each op of each decision, as modules at their input shapes; ops[d][j]:
   *  a probe, 0 for an op that costs nothing (a no-op), null for a column the decision cannot take
   *  (absent: no latency loss). `dispose` frees the modules */
  latencyProbes?(be: Backend, sizes: SpaceSizes, resolution: number): LatencyProbes;

  /** the genotype as cell DAGs, one per decision group, for drawings (absent: a table by decision) */
  describeGenotype?(g: Genotype): CellDag[];

  // ---- optional benchmark table ----
  parseBenchTable?(text: string, source: string): BenchTable;
}

/** Throws unless `g` has one integer per decision, each −1 or a column of that decision. */
export function assertGenotypeShape(space: SearchSpace, g: Genotype, what = 'genotype'): void {
  if (!Array.isArray(g) || g.length !== space.rows) {
    throw new Error(`${what} must list one op per decision (${space.rows} for ${space.name}), got ${Array.isArray(g) ? `length ${g.length}` : typeof g}`);
  }
  g.forEach((o, d) => {
    const n = space.decisions[d]!.ops.length;
    if (!Number.isInteger(o) || o < -1 || o >= n) throw new Error(`${what}: decision ${space.decisions[d]!.key} has op ${o}, expected -1..${n - 1}`);
  });
}

/** `space.describeSize`, or C and N for a space that does not say (a plug-in's default). */
export function describeSize(space: SearchSpace, sizes: { C: number; N: number }, sep = '='): string {
  return space.describeSize ? space.describeSize(sizes, sep) : `C${sep}${sizes.C} N${sep}${sizes.N}`;
}

/** One timed piece of a network: `run(x)` on an input of `inputShape` (batch included). */
export interface LatencyProbe {
  /** what it is and its shapes, for the table and its cache ('block:3 5x5_MBConv6 24x16x16→24 s1') */
  key: string;
  inputShape: number[];
  run(x: Tensor): Tensor;
}

export interface LatencyProbes {
  fixed: LatencyProbe[];
  ops: (LatencyProbe | 0 | null)[][];
  dispose(): void;
}
