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
  channels: number;
  cells: number;
  batchSize: number;
  /** initial weight learning rate; null: the base method's (0.025, spec §2.1) */
  lr: number | null;
  /** weight steps per epoch; null: ceil(weights half / batch size), as the reference */
  stepsPerEpoch: number | null;
  splitEpochs: number[];
  totalEpochs: number;
  /** children per split (NB201: 2; fewshot: one per op) */
  branches: number;
  /** group sizes of each split; null: as equal as possible, smaller first (2+3) */
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
  // the paper runs GM with second-order DARTS (spec §2.2); the small presets use first order
  const base = o.base ?? (preset === 'paper' ? 'darts2' : 'darts');
  const space = getSpace(o.space ?? DEFAULT_SPACE_NAME);
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
  int('retrain-epochs', c.retrainEpochs, 0);
  int('path-tune-steps', c.pathTuneSteps, 0);
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
  if (c.method === 'fewshot') {
    if (c.splitEpochs.length !== 1) fail('split-epochs', 'few-shot splits one edge once (exhaustively); give exactly one split epoch');
    if (!Number.isInteger(c.fewshotEdge) || c.fewshotEdge < 0 || c.fewshotEdge >= space.rows) fail('fewshot-edge', `expected an edge id in 0..${space.rows - 1}, got ${c.fewshotEdge}`);
    const numOps = space.decisions[c.fewshotEdge].ops.length;
    if (c.branches !== numOps) fail('branches', `few-shot splits exhaustively into ${numOps} (one op each); got ${c.branches}`);
  } else if (c.method !== 'oneshot') {
    const numOps = space.decisions[0].ops.length;
    if (!Number.isInteger(c.branches) || c.branches < 2 || c.branches > numOps) fail('branches', `expected an integer in 2..${numOps}, got ${c.branches}`);
  }
  if (c.groupSizes) {
    if (c.method === 'fewshot' || c.method === 'oneshot') fail('groups', `only GM and random splits take group sizes (--method ${c.method})`);
    if (c.groupSizes.length !== c.branches) fail('groups', `${c.groupSizes.length} sizes for --branches ${c.branches}`);
    if (c.groupSizes.some((g) => !Number.isInteger(g) || g < 1)) fail('groups', `sizes must be positive integers, got ${c.groupSizes.join('+')}`);
    const total = c.groupSizes.reduce((a, b) => a + b, 0);
    const numOps = space.decisions[0].ops.length;
    if (total !== numOps) fail('groups', `sizes ${c.groupSizes.join('+')} add up to ${total}, an ${space.title} edge has ${numOps} ops`);
  }
  if (c.select === 'bench' && !c.bench) fail('select', "'bench' (the oracle pick) needs --bench FILE");
  if (c.dataset !== 'synthetic' && c.syntheticSize !== null) {
    // the size of the generated set only applies to the synthetic dataset; ignore silently would hide a mistake
    fail('synthetic-size', `only applies to --dataset synthetic (got --dataset ${c.dataset})`);
  }
}

/** The splits' group sizes for a config. */
export function splitGroupSizes(c: SearchConfig): number[] {
  if (c.groupSizes) return c.groupSizes;
  const space = getSpace(c.space);
  return space.split.groupSizes(space.decisions[0].ops.length, c.branches)[0];
}

/** Fields that may differ between a run and its resumption (they do not change the result). */
export const RESUME_NEUTRAL_FIELDS: readonly (keyof SearchConfig)[] = ['dataDir'];
