// The configuration of a few-shot search (GM, few-shot, random split) or a one-shot search, its
// presets, and the checks that turn a bad combination into one clear message. Browser-safe.
//
// Timeline (spec §3.1, generalised): `splitEpochs` = [s1, s2, …] are the epochs at which every node
// of the current level is split; the root trains epochs [0, s1), level-k nodes [s_k, s_{k+1}), the
// leaves [s_last, totalEpochs). α is frozen before s_last (spec §7.1.3) and trained after it. With
// `restart`, the children of the final split start from fresh weights, α, optimizers and schedules
// (spec §3.6); the fresh LR cosine keeps T = totalEpochs unless `fixSchedule` (spec §7.1.2).
import { BASE_METHOD_NAMES, type BaseMethodName } from '../search/presets.js';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.js';
import { GM_METRICS, type GmMetric } from './gm-score.js';
import type { EdgeCriterion } from './cut.js';
import type { LatencyTable } from './latency-table.js';
import { getSpace, SPACE_NAMES, DEFAULT_SPACE_NAME } from '../spaces/registry.js';

export const SEARCH_METHODS = ['gm', 'fewshot', 'random', 'oneshot'] as const;
export type SearchMethod = (typeof SEARCH_METHODS)[number];
export const SELECTORS = ['val-acc', 'val-loss', 'supernet-val-acc', 'halving', 'bench'] as const;
/** how a leaf's genotype is read off its trained supernet: argmax of α (the reference) or by
 *  perturbation, the op whose removal costs the most validation accuracy (src/search/perturbation.ts) */
export const DERIVATIONS = ['alpha', 'perturbation'] as const;
export type Derivation = (typeof DERIVATIONS)[number];
export type Selector = (typeof SELECTORS)[number];
export const PRESETS = ['quick', 'tiny', 'paper'] as const;
export type PresetName = (typeof PRESETS)[number];

export interface SearchConfig {
  space: string;
  method: SearchMethod;
  base: BaseMethodName;
  preset: PresetName;
  seed: number;
  dataset: DatasetName;
  dataDir: string | null;
  /** use only the first K training images (null: all) */
  trainLimit: number | null;
  /** 'synthetic' only: images generated for the training set */
  syntheticSize: number | null;
  /** shrink the images by this integer factor (1: as distributed); small presets trade resolution for speed */
  downsample: number;
  /** image side of the search and its retraining (`--resolution`; image folders are decoded at it, other
   *  sets padded and shrunk to it: fitToResolution); absent: as `downsample` gives. Optional so that the
   *  configs of runs made before it existed still resume */
  resolution?: number;
  channels: number;
  cells: number;
  batchSize: number;
  /** initial weight learning rate; null: the base method's (0.025, spec §2.1) */
  lr: number | null;
  /** weight steps per epoch; null: ceil(weights half / batch size), as the reference */
  stepsPerEpoch: number | null;
  splitEpochs: number[];
  totalEpochs: number;
  /** children per split (NB201: 2; fewshot: one per op), or one count per split level (MobileNet, spec
   *  §5.2: [2, 3], 6 leaves); read it through `branchesAt` */
  branches: number | number[];
  /** group sizes of every split; null: as equal as possible, smaller first (2+3). With several op
   *  counts (MobileNet: 6 or 7) only decisions whose op count equals their sum are split */
  groupSizes: number[] | null;
  gmRepeats: number;
  gmMetric: GmMetric;
  edgeCriterion: EdgeCriterion;
  /** the edge few-shot splits (FS NAS: 0) */
  fewshotEdge: number;
  restart: boolean;
  fixSchedule: boolean;
  select: Selector;
  /** validation batches used to score leaves (null: the whole architecture half) */
  valBatches: number | null;
  /** RSPS selection candidates per leaf (spec: 200) */
  rspsCandidates: number;
  /** successive halving over leaves: epochs of the first round of stand-alone training */
  halvingEpochs: number;
  /** NB201 table CSV (reports benchmark accuracy; needed by select=bench) */
  bench: string | null;
  /** the table column reported and used by select=bench */
  benchColumn: string;
  /** before a leaf's derived genotype is scored, train it alone as a single path (shared weights) for
   *  this many steps (0: score it as the supernet left it, as the reference) */
  pathTuneSteps: number;
  /** how each leaf's genotype is derived (absent in runs made before it existed: 'alpha') */
  derive?: Derivation;
  /** epochs of the final genotype's stand-alone retraining after selection (src/nas/retrain.ts);
   *  0: none (--no-retrain) */
  retrainEpochs: number;
  /** `--max-flops`: most multiply-adds per image at the search resolution of the returned architecture
   *  (src/nas/budget.ts; spaces with a cost model). Optional, as `resolution` */
  maxMacs?: number;
  /** `--max-params`: most parameters of the returned architecture */
  maxParams?: number;
  /** `--flops-target`: ProxylessNAS's hardware loss on α with the expected multiply-adds per image as the
   *  hardware value and this as its reference value (src/search/flops-loss.ts; --base proxyless) */
  flopsTarget?: number;
  /** `--flops-loss`: the loss's form (default 'mul#log', the reference's) */
  flopsLoss?: 'mul#log' | 'add#linear';
  /** `--hold-steps K`: --base proxyless holds the op of each decision without a no-op for K weight steps
   *  (src/search/proxyless.ts; absent: 1, a draw every step) */
  holdSteps?: number;
  /** `--proxyless-full` / `--no-proxyless-full`: --base proxyless runs ProxylessNAS's 'full' mode on the
   *  decisions without a no-op (src/search/proxyless.ts; absent: off; MobileNet quick: on) */
  fullNoOpFree?: boolean;
  /** `--path-bn-recalibrate K`: each leaf's derived path is scored in eval mode with BN running
   *  statistics re-estimated for it on K fixed training batches (src/nas/bn-recalibrate.ts; absent: 0,
   *  the method's own BN mode with the supernet's statistics; MobileNet quick: 8) */
  pathBnRecalibrate?: number;
  /** `--latency-target MS`: ProxylessNAS's hardware loss on α with the expected latency (batch 1, ms)
   *  from a lookup table measured on the current backend at the start of the run (src/nas/latency-table.ts;
   *  --base proxyless, a space with latencyProbes; not with --flops-target) */
  latencyTarget?: number;
  /** the measured table (set by runSearch when latencyTarget is; kept for resumes and workers) */
  latencyTable?: LatencyTable;
}

type PresetFields = Pick<SearchConfig, 'channels' | 'cells' | 'batchSize' | 'stepsPerEpoch' | 'splitEpochs' |
  'totalEpochs' | 'gmRepeats' | 'valBatches' | 'rspsCandidates' | 'trainLimit' | 'syntheticSize' | 'halvingEpochs' | 'downsample' | 'lr' | 'retrainEpochs' | 'pathTuneSteps' | 'derive'>;

/**
 * - paper: spec §2–3 (C=16 N=5, batch 48, 15/30 + 30 epochs, RSPS 20/40 + 50, R=100, full halves);
 * - quick: the default — on the embedded Fashion-MNIST (12 000 images, padded to 32×32 and shrunk to
 *   16×16), C=8 N=1, batch 64, 25 steps per epoch, splits at 2 and 4 of 10 epochs (root 50 steps, each
 *   leaf 150), R=3, each leaf's genotype derived by perturbation (α methods; the reference reads argmax
 *   α), its derived path trained alone 50 steps before it is scored, then 3 epochs
 *   of stand-alone retraining of the pick; chosen so that the leaf
 *   supernets reach ~70 % (docs/quality.md);
 * - tiny: seconds (C=4, 8×8 images); for tests and smoke checks.
 */
export function presetFields(preset: PresetName, base: BaseMethodName, method: SearchMethod): PresetFields {
  const rsps = base === 'rsps';
  if (preset === 'paper') {
    const split = rsps ? [20, 40] : [15, 30];
    const total = rsps ? 90 : 60;
    return {
      channels: 16, cells: 5, batchSize: 48, stepsPerEpoch: null,
      splitEpochs: method === 'oneshot' ? [] : method === 'fewshot' ? [0] : split, totalEpochs: total,
      gmRepeats: 100, valBatches: null, rspsCandidates: 200, trainLimit: null, syntheticSize: null, halvingEpochs: 10, downsample: 1, lr: null,
      retrainEpochs: 200, pathTuneSteps: 0, derive: 'alpha',
    };
  }
  if (preset === 'quick') {
    return {
      channels: 8, cells: 1, batchSize: 64, stepsPerEpoch: 25,
      splitEpochs: method === 'oneshot' ? [] : method === 'fewshot' ? [0] : [2, 4], totalEpochs: 10,
      gmRepeats: 3, valBatches: 8, rspsCandidates: 20, trainLimit: null, syntheticSize: 2000, halvingEpochs: 1, downsample: 2, lr: null,
      // perturbation: argmax α after 150 leaf steps picks the ops that helped first (pooling); the
      // accuracy-drop reading of the same leaves picked better cells (docs/quality.md)
      retrainEpochs: 3, pathTuneSteps: 50, derive: rsps ? 'alpha' : 'perturbation',
    };
  }
  return {
    channels: 4, cells: 1, batchSize: 8, stepsPerEpoch: 2,
    splitEpochs: method === 'oneshot' ? [] : method === 'fewshot' ? [0] : [1, 2], totalEpochs: 3,
    gmRepeats: 2, valBatches: 2, rspsCandidates: 4, trainLimit: null, syntheticSize: 256, halvingEpochs: 1, downsample: 4, lr: null,
    retrainEpochs: 1, pathTuneSteps: 2, derive: 'alpha',
  };
}

export function defaultSearchConfig(o: { space?: string; method?: SearchMethod; base?: BaseMethodName; preset?: PresetName } = {}): SearchConfig {
  const method = o.method ?? 'gm';
  const preset = o.preset ?? 'quick';
  const space = getSpace(o.space ?? DEFAULT_SPACE_NAME);
  // the paper runs GM with second-order DARTS (spec §2.2); the small presets use first order; a space
  // may name its own (MobileNet: ProxylessNAS, spec §5.2)
  const base = o.base ?? (space.defaultBase as BaseMethodName | undefined) ?? (preset === 'paper' ? 'darts2' : 'darts');
  return {
    space: space.name, method, base, preset, seed: 0, dataset: 'synthetic', dataDir: null,
    ...presetFields(preset, base, method),
    branches: method === 'fewshot' ? space.decisions[0].ops.length : 2, groupSizes: null,
    gmMetric: 'cos', edgeCriterion: space.split.edgeCriterion, fewshotEdge: 0,
    restart: true, fixSchedule: false, select: 'val-acc',
    // the space's own presets (DARTS: spec §5.1, its paper preset selects by successive halving) replace the NB201 ones
    ...(space.searchPreset?.(preset, base, method) as Partial<SearchConfig> | null ?? {}), bench: null, benchColumn: 'cifar10_test',
  };
}

/** Children per split at split level `level` (0 = the root's split). */
export function branchesAt(c: Pick<SearchConfig, 'branches'>, level: number): number {
  return typeof c.branches === 'number' ? c.branches : c.branches[level];
}

/** The branching of every split level of `c`. */
export function levelBranches(c: Pick<SearchConfig, 'branches' | 'splitEpochs'>): number[] {
  return c.splitEpochs.map((_, level) => branchesAt(c, level));
}

/** Every check of a config; the message names the flag at fault. */
export function validateSearchConfig(c: SearchConfig): void {
  const fail = (flag: string, msg: string): never => { throw new Error(`--${flag}: ${msg}`); };
  if (!SPACE_NAMES.includes(c.space)) fail('space', `expected one of ${SPACE_NAMES.join(', ')}, got '${c.space}'`);
  const space = getSpace(c.space);
  const numEdges = space.split.candidates(space.fullMask()).length;
  if (!SEARCH_METHODS.includes(c.method)) fail('method', `expected one of ${SEARCH_METHODS.join(', ')}, got '${c.method}'`);
  if (!BASE_METHOD_NAMES.includes(c.base)) fail('base', `expected one of ${BASE_METHOD_NAMES.join(', ')}, got '${c.base}'`);
  if (!DATASET_NAMES.includes(c.dataset)) fail('dataset', `expected one of ${DATASET_NAMES.join(', ')}, got '${c.dataset}'`);
  if (!GM_METRICS.includes(c.gmMetric)) fail('gm-metric', `expected one of ${GM_METRICS.join(', ')}, got '${c.gmMetric}'`);
  if (!SELECTORS.includes(c.select)) fail('select', `expected one of ${SELECTORS.join(', ')}, got '${c.select}'`);
  if (c.derive !== undefined && !DERIVATIONS.includes(c.derive)) fail('derive', `expected one of ${DERIVATIONS.join(', ')}, got '${c.derive}'`);
  if (c.derive === 'perturbation' && c.base === 'rsps') fail('derive', "'perturbation' removes ops from the α mixture; --base rsps trains single paths and has no α (use --derive alpha)");
  const int = (flag: string, v: number, min: number): void => {
    if (!Number.isInteger(v) || v < min) fail(flag, `expected an integer >= ${min}, got ${v}`);
  };
  int('seed', c.seed, 0);
  int('channels', c.channels, 1);
  int('cells', c.cells, 1);
  int('batch-size', c.batchSize, 1);
  if (c.stepsPerEpoch !== null) int('steps-per-epoch', c.stepsPerEpoch, 1);
  int('epochs', c.totalEpochs, 1);
  int('gm-repeats', c.gmRepeats, 1);
  int('val-batches', c.valBatches ?? 1, 1);
  int('rsps-candidates', c.rspsCandidates, 1);
  int('halving-epochs', c.halvingEpochs, 1);
  int('downsample', c.downsample, 1);
  if (c.resolution !== undefined) {
    int('resolution', c.resolution, 4);
    if (c.downsample !== 1) fail('resolution', `gives the image side itself; drop --downsample ${c.downsample}`);
  }
  int('retrain-epochs', c.retrainEpochs, 0);
  int('path-tune-steps', c.pathTuneSteps, 0);
  if (c.pathBnRecalibrate !== undefined) int('path-bn-recalibrate', c.pathBnRecalibrate, 0);
  if (c.lr !== null && !(c.lr > 0 && c.lr < 10)) fail('lr', `expected a learning rate in (0, 10), got ${c.lr}`);
  if (c.trainLimit !== null) int('train-limit', c.trainLimit, 2);
  let prev = -1;
  for (const s of c.splitEpochs) {
    if (!Number.isInteger(s) || s < 0) fail('split-epochs', `${s} is not a non-negative integer`);
    if (s <= prev && !(s === 0 && prev === -1)) fail('split-epochs', `must increase strictly, got ${c.splitEpochs.join(',')}`);
    prev = s;
  }
  if (c.splitEpochs.length && c.splitEpochs[c.splitEpochs.length - 1] >= c.totalEpochs) {
    fail('epochs', `${c.totalEpochs} leaves no epoch after the last split (${c.splitEpochs.join(',')}); the leaves must be trained`);
  }
  if (c.method === 'oneshot' && c.splitEpochs.length) fail('split-epochs', 'a one-shot search does not split (drop --split-epochs or use --method gm|fewshot|random)');
  if (c.method !== 'oneshot' && !c.splitEpochs.length) fail('split-epochs', `--method ${c.method} needs at least one split epoch`);
  if (c.splitEpochs.length > numEdges) fail('split-epochs', `${c.splitEpochs.length} split levels, but ${space.title} has only ${numEdges} edges to split`);
  // op counts of the decisions a split may pick (NB201 5, DARTS 7 or 8, MobileNet 6 or 7)
  const opCounts = [...new Set(space.split.candidates(space.fullMask()).map((d) => space.decisions[d].ops.length))].sort((a, b) => a - b);
  const branchList = typeof c.branches === 'number' ? [c.branches] : c.branches;
  if (!Array.isArray(branchList) || branchList.length === 0) fail('branches', `expected a count like 2 or one per split level like 2,3, got ${JSON.stringify(c.branches)}`);
  if (c.method === 'fewshot') {
    if (c.splitEpochs.length !== 1) fail('split-epochs', 'few-shot splits one edge once (exhaustively); give exactly one split epoch');
    if (!Number.isInteger(c.fewshotEdge) || c.fewshotEdge < 0 || c.fewshotEdge >= space.rows) fail('fewshot-edge', `expected an edge id in 0..${space.rows - 1}, got ${c.fewshotEdge}`);
    const numOps = space.decisions[c.fewshotEdge].ops.length;
    if (c.branches !== numOps) fail('branches', `few-shot splits exhaustively into ${numOps} (one op each); got ${branchList.join(',')}`);
  } else if (c.method !== 'oneshot') {
    if (typeof c.branches !== 'number' && c.branches.length !== c.splitEpochs.length) {
      fail('branches', `${c.branches.join(',')} gives ${c.branches.length} level(s) but --split-epochs ${c.splitEpochs.join(',')} has ${c.splitEpochs.length}; give one count per split level, or one count for all`);
    }
    const maxB = opCounts[0];
    for (const b of branchList) {
      if (!Number.isInteger(b) || b < 2 || b > maxB) fail('branches', `expected integers in 2..${maxB} (the fewest ops of a decision), got ${branchList.join(',')}`);
    }
  }
  if (c.groupSizes) {
    if (c.method === 'fewshot' || c.method === 'oneshot') fail('groups', `only GM and random splits take group sizes (--method ${c.method})`);
    const differs = branchList.find((b) => b !== c.groupSizes!.length);
    if (differs !== undefined) fail('groups', `${c.groupSizes.length} sizes for --branches ${branchList.join(',')} (the sizes apply to every split level)`);
    if (c.groupSizes.some((g) => !Number.isInteger(g) || g < 1)) fail('groups', `sizes must be positive integers, got ${c.groupSizes.join('+')}`);
    const total = c.groupSizes.reduce((a, b) => a + b, 0);
    if (!opCounts.includes(total)) {
      fail('groups', `sizes ${c.groupSizes.join('+')} add up to ${total}, ${opCounts.length > 1 ? `but ${space.title} decisions have ${opCounts.join(' or ')} ops` : `an ${space.title} edge has ${opCounts[0]} ops`}`);
    }
  }
  for (const [flag, v] of [['max-flops', c.maxMacs], ['max-params', c.maxParams]] as const) {
    if (v === undefined) continue;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) fail(flag, `expected a positive number, got ${v}`);
    if (!space.cost) fail(flag, `the ${space.name} space has no cost model (parameters / multiply-adds); only spaces with one take a budget`);
  }
  if (c.flopsTarget !== undefined) {
    if (!(typeof c.flopsTarget === 'number' && c.flopsTarget > 1 && Number.isFinite(c.flopsTarget))) fail('flops-target', `expected a number of multiply-adds > 1, got ${c.flopsTarget}`);
    if (c.base !== 'proxyless') fail('flops-target', `the expected-FLOPs loss is ProxylessNAS's; it needs --base proxyless (got ${c.base})`);
    if (!space.opMacs) fail('flops-target', `the ${space.name} space has no per-op cost model`);
  }
  if (c.flopsLoss !== undefined && c.flopsLoss !== 'mul#log' && c.flopsLoss !== 'add#linear') fail('flops-loss', `expected mul#log or add#linear, got ${String(c.flopsLoss)}`);
  if (c.latencyTarget !== undefined) {
    if (!(typeof c.latencyTarget === 'number' && c.latencyTarget > 0 && Number.isFinite(c.latencyTarget))) fail('latency-target', `expected a latency in ms > 0, got ${c.latencyTarget}`);
    if (c.base !== 'proxyless') fail('latency-target', `the latency loss is ProxylessNAS's; it needs --base proxyless (got ${c.base})`);
    if (!space.latencyProbes) fail('latency-target', `the ${space.name} space has no latency lookup table (SearchSpace.latencyProbes)`);
    if (c.flopsTarget !== undefined) fail('latency-target', 'one hardware loss at a time: drop --flops-target or --latency-target');
  }
  if (c.flopsLoss !== undefined && c.flopsTarget === undefined && c.latencyTarget === undefined) fail('flops-loss', 'needs --flops-target or --latency-target');
  if (c.holdSteps !== undefined) {
    if (!(Number.isInteger(c.holdSteps) && c.holdSteps >= 1)) fail('hold-steps', `expected an integer ≥ 1, got ${c.holdSteps}`);
    if (c.holdSteps > 1 && c.base !== 'proxyless') fail('hold-steps', `held paths are a --base proxyless option (got ${c.base})`);
  }
  if (c.fullNoOpFree && c.base !== 'proxyless') fail('proxyless-full', `ProxylessNAS's full mode needs --base proxyless (got ${c.base})`);
  if (c.select === 'bench' && !c.bench) fail('select', "'bench' (the oracle pick) needs --bench FILE");
  if (c.dataset !== 'synthetic' && c.syntheticSize !== null) {
    // the size of the generated set only applies to the synthetic dataset; ignore silently would hide a mistake
    fail('synthetic-size', `only applies to --dataset synthetic (got --dataset ${c.dataset})`);
  }
}

/** The group sizes of a split at `level` of a decision with `ops` ops (default: the first decision's). */
export function splitGroupSizes(c: SearchConfig, level = 0, ops?: number): number[] {
  if (c.groupSizes) return c.groupSizes;
  const space = getSpace(c.space);
  return space.split.groupSizes(ops ?? space.decisions[0].ops.length, branchesAt(c, level))[0];
}

/** Fields that may differ between a run and its resumption (they do not change the result). */
export const RESUME_NEUTRAL_FIELDS: readonly (keyof SearchConfig)[] = ['dataDir', 'latencyTable'];
