// Score any genotype of a search's space with the (sub-)supernet of a finished search that holds it (issue [rank]):
// the leaf of the partition tree whose op mask admits the genotype (one-shot: the single supernet),
// run as a single path on fixed validation batches — the first images of the architecture half, as
// the search scored its own leaves — optionally after BN recalibration on K fixed training batches.
// Genotypes are grouped by leaf so each leaf's checkpoint is loaded once.
//
// BN modes: without recalibration, the mode the search used to score its leaves (`leafBnMode`:
// batch statistics for DARTS, running statistics for SNAS/RSPS/GDAS). With `bnRecalibrate` K > 0,
// every BN that keeps running statistics (stem, reduction blocks, head; the search cells' ops too when
// the base method tracks them) is reset and re-estimated in training mode, without gradients, on K
// fixed training batches with the single path, as a cumulative average (PyTorch's momentum=None), and
// the genotype is then evaluated in eval mode. The K batches are the same for every genotype.
//
// Node only: reads the run folder (result.json, checkpoints/node-<id>.safetensors).
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { keep, tuneKernels, type Backend } from '../engine/index.js';
import { readTextFile } from '../io/fs.js';
import { parseSealedJson } from '../io/sealed-json.js';
import { parseCsvRecords } from '../io/csv.js';
import { loadMethodCheckpoint } from '../search/checkpoints.js';
import { uploadBatch, type DeviceBatch, type EvalData } from '../search/batch.js';
import type { BaseMethod } from '../search/method.js';
import { getSpace, SPACE_NAMES, type SearchSpace, type OpMask, type Genotype } from '../spaces/registry.js';
import type { SearchConfig } from './config.js';
import type { SearchResult } from './search.js';
import { createNodeMethod, leafBnMode, validationData, checkpointName, type NodeProgress, type SearchData } from './phases.js';
import { loadSearchData } from './search-data.js';
import { recalibrateBatchNorm, recalibrationBatches } from './bn-recalibrate.js';

export { recalibrateBatchNorm } from './bn-recalibrate.js';
import { runCheckpointRoot, STORE_RECORD } from './run-location.js';

// ---- the run ------------------------------------------------------------------------------------

export interface RunLeaf {
  node: number;
  mask: OpMask;
  /** "11111/…" as in result.json */
  maskString: string;
  checkpoint: string;
  /** the search's own error when this leaf failed (its genotypes cannot be ranked), else null */
  failure: string | null;
}

export interface LoadedRun {
  dir: string;
  result: SearchResult;
  config: SearchConfig;
  leaves: RunLeaf[];
  /** the folder holding checkpoints/: the run folder, or the shared store's folder of a queued run */
  checkpointRoot: string;
}

/** A finished search folder: result.json and the leaves' checkpoints (in the run folder, where its
 *  queue-store.json says, or in `o.checkpointRoot`/checkpoints: the same store mounted elsewhere). Every
 *  problem is one clear message naming the folder and what is missing. */
export function loadRun(dir: string, o: { checkpointRoot?: string } = {}): LoadedRun {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new Error(`${dir}: no such folder (expected a search's output folder, the --out of \`node run.js --space nb201\`)`);
  if (!statSync(abs).isDirectory()) throw new Error(`${dir}: not a folder (expected a search's output folder with result.json and checkpoints/)`);
  const resultPath = join(abs, 'result.json');
  if (!existsSync(resultPath)) {
    if (existsSync(join(abs, 'state.json'))) {
      throw new Error(`${dir}: the search has not finished (state.json but no result.json); finish it with \`node run.js --resume ${dir}\``);
    }
    throw new Error(`${dir}: no result.json; not the output folder of a finished search (\`node run.js --space nb201 --out DIR\`)`);
  }
  const result = parseSealedJson<SearchResult>(readTextFile(resultPath, 'search result'), resultPath).value;
  const bad = (what: string): never => { throw new Error(`${resultPath}: not a gmnas search result (${what})`); };
  if (typeof result !== 'object' || result === null) bad('not a JSON object');
  if (!SPACE_NAMES.includes(result.space)) bad(`space ${JSON.stringify(result.space)}, expected one of ${SPACE_NAMES.join(', ')}`);
  const space = getSpace(result.space);
  if (!result.config || typeof result.config !== 'object') bad('no config');
  if (!result.tree || !Array.isArray(result.tree.nodes) || result.tree.nodes.length === 0) bad('no tree.nodes');
  // a run started with --queue --store keeps its checkpoints in the shared store (queue-store.json)
  const checkpointRoot = o.checkpointRoot === undefined ? runCheckpointRoot(abs) : resolve(o.checkpointRoot);
  const ckDir = join(checkpointRoot, 'checkpoints');
  if (!existsSync(ckDir)) {
    if (checkpointRoot !== abs) {
      throw new Error(`${dir}: the run keeps its checkpoints in the shared store, but ${ckDir} is not visible here (${STORE_RECORD}); mount the store at that path`);
    }
    throw new Error(`${dir}: no checkpoints/ folder; ranking needs the leaves' checkpoints (checkpoints/node-<id>.safetensors) ` +
      'that the search writes next to result.json (was the folder copied without them?)');
  }
  const failed = new Map((result.failedLeaves ?? []).map((f) => [f.node, f.error]));
  const leaves: RunLeaf[] = result.tree.nodes.filter((n) => n.children.length === 0).map((n) => {
    let mask: OpMask;
    try { mask = space.parseMask(n.mask); } catch (e) { return bad(`node ${n.id}: ${(e as Error).message}`); }
    return {
      node: n.id, mask, maskString: space.maskToString(mask), checkpoint: join(ckDir, `${checkpointName(n.id)}.safetensors`),
      failure: failed.get(n.id) ?? null,
    };
  });
  return { dir: abs, result, config: result.config, leaves, checkpointRoot };
}

/** The leaf whose mask admits `g` (the leaves partition the space, so there is exactly one). */
export function leafFor(run: LoadedRun, g: Genotype): RunLeaf | undefined {
  const space = getSpace(run.result.space);
  return run.leaves.find((l) => space.maskAdmits(l.mask, g));
}

// ---- genotype lists ---------------------------------------------------------------------------

export interface GenotypeLine { line: number; arch: string; genotype: Genotype }
export interface GenotypeLineError { line: number; text: string; message: string }

/**
 * Genotypes from a file's text: one per line (blank lines and lines starting with '#' are skipped,
 * spaces around a genotype ignored), or a CSV whose header has an `arch_str` column (the NB201 table,
 * the CSV `rank` writes) — recognised by a first line with a comma or that is exactly `arch_str`.
 * Lines that are not a valid NB201 genotype (malformed, or an op outside the space) come back in
 * `errors` with their 1-based line; the rest in `entries`, in file order.
 */
export function parseGenotypeList(text: string, source: string, space: SearchSpace = getSpace()): { entries: GenotypeLine[]; errors: GenotypeLineError[] } {
  const entries: GenotypeLine[] = [];
  const errors: GenotypeLineError[] = [];
  const add = (line: number, raw: string): void => {
    const s = raw.trim();
    try {
      const genotype = space.parseGenotype(s);
      entries.push({ line, arch: space.formatGenotype(genotype), genotype });
    } catch (e) {
      errors.push({ line, text: s, message: (e as Error).message });
    }
  };
  const lines = text.replace(/^\ufeff/, '').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  if (first < 0) return { entries, errors };
  const head = lines[first]!.trim();
  if (head.includes(',') || head === 'arch_str') {
    const records = parseCsvRecords(text, source);
    const header = records[0]!.fields.map((f) => f.trim());
    const col = header.indexOf('arch_str');
    if (col < 0) throw new Error(`${source}:${records[0]!.line}: a CSV list of genotypes needs an 'arch_str' column (columns: ${header.join(', ')})`);
    for (const r of records.slice(1)) {
      if (r.fields.length !== header.length) {
        errors.push({ line: r.line, text: r.fields.join(','), message: `${r.fields.length} fields, but the header has ${header.length} columns` });
      } else {
        add(r.line, r.fields[col]!);
      }
    }
    return { entries, errors };
  }
  lines.forEach((l, i) => {
    const s = l.trim();
    if (s === '' || s.startsWith('#')) return;
    add(i + 1, s);
  });
  return { entries, errors };
}

// ---- ranking ----------------------------------------------------------------------------------

export interface RankOptions {
  /** where the leaves are scored (not needed with `leafRanker`) */
  backend?: Backend;
  /** validation batches of the run's batch size: undefined: the run's own (`--val-batches` of the
   *  search); null: the whole architecture half */
  valBatches?: number | null;
  /** BN recalibration on this many training batches before each evaluation (0 or undefined: none) */
  bnRecalibrate?: number;
  /** the search's data (default: loaded from the run's config, as the search loaded it) */
  data?: SearchData;
  /** where the dataset's files are now, when the run was made elsewhere (default: the run's) */
  dataDir?: string;
  onLog?: (line: string) => void;
  /** after each genotype: how many are done of how many, and the leaf in use */
  onProgress?: (done: number, total: number, leaf: number) => void;
  /** scores the leaves elsewhere (src/pool: `rank --queue`, one rank-leaf job per leaf); default: here,
   *  one leaf after another on `backend` (no data is loaded here when given) */
  leafRanker?: LeafRanker;
}

export interface RankedGenotype {
  /** position in the input list */
  index: number;
  arch: string;
  leaf: number;
  /** % */
  accuracy: number;
  loss: number;
}

export interface RankReport {
  /** one per ranked input, in input order */
  rows: RankedGenotype[];
  /** inputs that could not be ranked (their leaf failed in the search) */
  unranked: { index: number; arch: string; leaf: number | null; reason: string }[];
  leaves: { node: number; mask: string; genotypes: number; seconds: number; epochsDone: number | null }[];
  /** how BN was run at evaluation */
  bn: 'train' | 'eval' | 'recalibrated';
  bnRecalibrate: number;
  /** validation images per genotype */
  valImages: number;
  seconds: number;
}

/** One leaf's share of a ranking: its checkpoint and the distinct genotypes it scores. */
export interface LeafRankInput {
  node: number;
  mask: OpMask;
  checkpoint: string;
  archs: { arch: string; genotype: Genotype }[];
}

export interface LeafRankOutput {
  node: number;
  /** the checkpoint's epoch (null: no progress metadata) */
  epochsDone: number | null;
  seconds: number;
  /** validation images per genotype */
  valImages: number;
  /** one per input arch, in input order */
  scores: { arch: string; accuracy: number; loss: number }[];
}

/** How ranking settings reach a scorer (here or on a queue worker). */
export interface LeafRankSettings {
  /** validation batches (null: the whole architecture half) */
  valBatches: number | null;
  bnRecalibrate: number;
}

/** Scores every leaf of `leaves` (all of them, or throws); `onScored` after each genotype. */
export type LeafRanker = (leaves: LeafRankInput[], settings: LeafRankSettings, o: { onScored: (node: number) => void }) => Promise<LeafRankOutput[]>;

/** Upload the validation batches once when they take at most this many bytes; stream them otherwise. */
const UPLOAD_ONCE_BYTES = 512 * 1024 * 1024;

/**
 * Scores leaves of one run on one backend: the validation (and recalibration) batches are made once
 * and used for every leaf. Used by `rankGenotypes` in-process and by a queue worker's rank-leaf job
 * (`rankLeaves`), so both give the same numbers.
 */
class LeafScorer {
  private readonly owned: DeviceBatch[] = [];
  private readonly valData: EvalData;
  private readonly recalBatches: DeviceBatch[];
  readonly valImages: number;

  constructor(private readonly backend: Backend, private readonly c: SearchConfig, private readonly data: SearchData, private readonly settings: LeafRankSettings) {
    const { valBatches, bnRecalibrate } = settings;
    if (!Number.isInteger(bnRecalibrate) || bnRecalibrate < 0) throw new Error(`bnRecalibrate: expected an integer >= 0, got ${bnRecalibrate}`);
    if (valBatches !== null && (!Number.isInteger(valBatches) || valBatches < 1)) throw new Error(`valBatches: expected an integer >= 1 or null, got ${valBatches}`);
    const val = validationData({ ...c, valBatches }, data);
    this.valImages = Math.min(data.split.arch.length, valBatches === null ? Infinity : valBatches * c.batchSize);
    try {
      this.valData = this.valImages * data.imageShape.reduce((a, b) => a * b, 1) * 4 <= UPLOAD_ONCE_BYTES
        ? uploadAll(backend, data, [...val()], this.owned) : val;
      this.recalBatches = bnRecalibrate > 0 ? uploadAll(backend, data, recalibrationBatches(c, data, bnRecalibrate), this.owned) : [];
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  async score(leaf: LeafRankInput, o: { requireChecksum?: boolean; onScored?: () => void } = {}): Promise<LeafRankOutput> {
    const tl = Date.now();
    const c = this.c;
    const method = createNodeMethod(c, this.backend, this.data, leaf.node, leaf.mask);
    try {
      const meta = loadMethodCheckpoint(leaf.checkpoint, method, { requireChecksum: o.requireChecksum });
      const scores: LeafRankOutput['scores'] = [];
      for (const { arch, genotype } of leaf.archs) {
        let m: { accuracy: number; loss: number };
        if (this.settings.bnRecalibrate > 0) {
          recalibrateBatchNorm(method, genotype, this.recalBatches);
          m = await method.evaluate(this.valData, { arch: genotype, bn: 'eval' });
        } else {
          m = await method.evaluate(this.valData, { arch: genotype, bn: leafBnMode(c) });
        }
        scores.push({ arch, accuracy: m.accuracy, loss: m.loss });
        // a genotype's single path may dispatch conv shapes the earlier ones did not: tune those
        await tuneKernels(this.backend);
        o.onScored?.();
      }
      return { node: leaf.node, epochsDone: progressEpochs(meta), seconds: (Date.now() - tl) / 1000, valImages: this.valImages, scores };
    } finally {
      method.dispose();
    }
  }

  dispose(): void {
    for (const b of this.owned.splice(0)) { b.x.dispose(); b.y.dispose(); }
  }
}

/**
 * A queue worker's rank-leaf job (and any caller with its own data): scores `leaves` of a run with
 * configuration `c` on `data`, as `rankGenotypes` does. `expected`: the run's result.dataset, checked
 * against `data` (a worker whose files differ must not score other images).
 */
export async function rankLeaves(c: SearchConfig, backend: Backend, data: SearchData, leaves: readonly LeafRankInput[], settings: LeafRankSettings,
  o: { expected?: SearchResult['dataset'] | null; requireChecksum?: boolean; onScored?: (node: number) => void } = {}): Promise<LeafRankOutput[]> {
  if (o.expected) checkData(o.expected, data, 'the job\'s run');
  const scorer = new LeafScorer(backend, c, data, settings);
  try {
    const out: LeafRankOutput[] = [];
    for (const leaf of leaves) out.push(await scorer.score(leaf, { requireChecksum: o.requireChecksum, onScored: () => o.onScored?.(leaf.node) }));
    return out;
  } finally {
    scorer.dispose();
  }
}

/**
 * Score `genotypes` with the leaves of the run in `run` (a folder or `loadRun`'s result). Each
 * distinct genotype is evaluated once; rows come back in input order.
 */
export async function rankGenotypes(run: string | LoadedRun, genotypes: readonly Genotype[], o: RankOptions): Promise<RankReport> {
  const t0 = Date.now();
  const r = typeof run === 'string' ? loadRun(run) : run;
  const c = r.config;
  const log = o.onLog ?? (() => {});
  const recal = o.bnRecalibrate ?? 0;
  if (!Number.isInteger(recal) || recal < 0) throw new Error(`bnRecalibrate: expected an integer >= 0, got ${recal}`);
  const valBatches = o.valBatches === undefined ? c.valBatches : o.valBatches;
  if (valBatches !== null && (!Number.isInteger(valBatches) || valBatches < 1)) throw new Error(`valBatches: expected an integer >= 1 or null, got ${valBatches}`);

  // group by leaf (distinct genotypes once)
  const unranked: RankReport['unranked'] = [];
  const byLeaf = new Map<number, { leaf: RunLeaf; archs: Map<string, { genotype: Genotype; indices: number[] }> }>();
  genotypes.forEach((g, index) => {
    const arch = getSpace(c.space).formatGenotype(g);
    const leaf = leafFor(r, g);
    if (!leaf) { unranked.push({ index, arch, leaf: null, reason: 'no leaf of the search admits it' }); return; }
    if (leaf.failure !== null) { unranked.push({ index, arch, leaf: leaf.node, reason: `its leaf (node ${leaf.node}) failed in the search: ${leaf.failure}` }); return; }
    let group = byLeaf.get(leaf.node);
    if (!group) byLeaf.set(leaf.node, group = { leaf, archs: new Map() });
    const entry = group.archs.get(arch);
    if (entry) entry.indices.push(index);
    else group.archs.set(arch, { genotype: g, indices: [index] });
  });
  const missing = [...byLeaf.values()].filter((g) => !existsSync(g.leaf.checkpoint)).map((g) => g.leaf.checkpoint);
  if (missing.length) {
    throw new Error(`${r.dir}: missing leaf checkpoint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; ` +
      'ranking needs the checkpoint of every leaf that holds a listed genotype');
  }

  const groups = [...byLeaf.values()].sort((a, b) => a.leaf.node - b.leaf.node);
  const inputs: LeafRankInput[] = groups.map(({ leaf, archs }) => ({
    node: leaf.node, mask: leaf.mask, checkpoint: leaf.checkpoint, archs: [...archs].map(([arch, { genotype }]) => ({ arch, genotype })),
  }));
  const settings: LeafRankSettings = { valBatches, bnRecalibrate: recal };
  const total = inputs.reduce((s, l) => s + l.archs.length, 0);
  let done = 0;
  const onScored = (node: number): void => o.onProgress?.(++done, total, node);
  let outputs: LeafRankOutput[];
  if (o.leafRanker) {
    outputs = inputs.length ? await o.leafRanker(inputs, settings, { onScored }) : [];
  } else {
    if (!o.backend) throw new Error('rank: no backend to score the leaves with');
    const data = o.data ?? loadSearchData({ ...c, dataDir: o.dataDir === undefined ? c.dataDir : resolve(o.dataDir) });
    checkData(r.result.dataset, data, r.dir);
    const scorer = new LeafScorer(o.backend, c, data, settings);
    outputs = [];
    try {
      for (const leaf of inputs) {
        log(`leaf ${leaf.node} (mask ${getSpace(c.space).maskToString(leaf.mask)}): ${leaf.archs.length} genotype${leaf.archs.length === 1 ? '' : 's'}`);
        outputs.push(await scorer.score(leaf, { onScored: () => onScored(leaf.node) }));
      }
    } finally {
      scorer.dispose();
    }
  }
  const rows: RankedGenotype[] = [];
  const leaves: RankReport['leaves'] = [];
  groups.forEach(({ leaf, archs }, k) => {
    const out = outputs[k];
    if (!out || out.node !== leaf.node || out.scores.length !== archs.size) throw new Error(`rank: no complete scores for leaf ${leaf.node}`);
    if (out.epochsDone !== null && out.epochsDone < c.totalEpochs) {
      log(`note: leaf ${leaf.node}'s checkpoint is after epoch ${out.epochsDone} of ${c.totalEpochs} (the leaf did not finish training)`);
    }
    for (const sc of out.scores) {
      for (const index of archs.get(sc.arch)!.indices) rows.push({ index, arch: sc.arch, leaf: leaf.node, accuracy: sc.accuracy, loss: sc.loss });
    }
    leaves.push({ node: leaf.node, mask: leaf.maskString, genotypes: archs.size, seconds: out.seconds, epochsDone: out.epochsDone });
  });
  const valImages = outputs[0]?.valImages ??
    Math.min(r.result.dataset?.archHalf ?? Infinity, valBatches === null ? Infinity : valBatches * c.batchSize);
  rows.sort((a, b) => a.index - b.index);
  unranked.sort((a, b) => a.index - b.index);
  const bn: RankReport['bn'] = recal > 0 ? 'recalibrated' : leafBnMode(c);
  return { rows, unranked, leaves, bn, bnRecalibrate: recal, valImages, seconds: (Date.now() - t0) / 1000 };
}

/** The data must be the search's: same image count and shape (a different --data-dir or a changed
 *  dataset would silently score on other images). */
function checkData(d: SearchResult['dataset'] | undefined | null, data: SearchData, where: string): void {
  if (!d) return;
  const shape = [...data.imageShape];
  if (d.trainImages !== data.train.size || JSON.stringify([...d.imageShape]) !== JSON.stringify(shape) || d.classes !== data.numClasses) {
    throw new Error(`${where}: the search ran on ${d.trainImages} ${d.name} images ${d.imageShape.join('×')} (${d.classes} classes), ` +
      `but the data loaded now are ${data.train.size} images ${shape.join('×')} (${data.numClasses} classes); ` +
      'point --data-dir at the same files');
  }
}

function progressEpochs(meta: Record<string, string>): number | null {
  if (meta.gmnas_progress === undefined) return null;
  try {
    const p = JSON.parse(meta.gmnas_progress) as NodeProgress;
    return Number.isInteger(p.epochsDone) ? p.epochsDone : null;
  } catch {
    return null;
  }
}

function uploadAll(be: Backend, data: SearchData, batches: { x: Float32Array; y: Float32Array; n: number }[], owned: DeviceBatch[]): DeviceBatch[] {
  return batches.map((b) => {
    const d = uploadBatch(be, b, data.imageShape);
    keep(d.x); keep(d.y);
    owned.push(d);
    return d;
  });
}
