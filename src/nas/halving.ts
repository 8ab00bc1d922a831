// Successive halving over candidate architectures (GM-NAS's supernet selection in the DARTS space,
// spec §5.1; an option for the final pick on NB201, spec §3.7), computed by gmnas.wasm
// (assembly/halving.ts).
//
// Each round trains every alive candidate for that round's epochs (continuing from where it stopped),
// scores it from the learning-curve values of that round, and keeps the best ⌈alive/η⌉. Scores are
// "higher is better" (accuracy) unless `higherIsBetter: false` (loss). Ties go to the lower candidate
// index; NaN scores (a diverged run) rank last.
import { gmnasWasm, ScratchArrays } from './cut.js';

export interface HalvingScheduleOptions {
  /** Reduction factor η ≥ 2: each round keeps ⌈alive/η⌉. Default 2. */
  eta?: number;
  /** Rounds to run; default (and maximum) the number needed to reach one candidate. */
  rounds?: number;
  /** Epochs each alive candidate trains per round: one number for every round, or one per round. */
  epochsPerRound?: number | readonly number[];
  /** Or: total candidate-epochs, split evenly over rounds and alive candidates (⌊budget/(rounds·alive)⌋). */
  budget?: number;
}

export interface HalvingRound {
  /** 0-based round index. */
  round: number;
  /** Candidates trained in this round. */
  alive: number;
  /** Candidates kept after it: ⌈alive/η⌉. */
  keep: number;
  /** Epochs each alive candidate trains in this round. */
  epochs: number;
  /** A survivor's epochs trained before this round (the round covers epochs [startEpoch, endEpoch)). */
  startEpoch: number;
  endEpoch: number;
}

/** How a round's learning curve becomes one score. 'gm-moving-average' is GM's avg ← (avg·t·0.1 + 0.9·v)/(t+1). */
export type CurveReduction = 'last' | 'mean' | 'best' | 'gm-moving-average';

const REDUCTIONS: readonly CurveReduction[] = ['last', 'mean', 'best', 'gm-moving-average'];

export interface HalvingKeepOptions {
  /** Keep ⌈n/η⌉ (default η = 2) … */
  eta?: number;
  /** … or exactly this many. */
  keep?: number;
  /** Default true (accuracies); false for losses. */
  higherIsBetter?: boolean;
}

/** Rounds of successive halving from `candidates` down to one with reduction factor `eta`. */
export function halvingRoundsToOne(candidates: number, eta = 2): number {
  checkInteger(candidates, 'candidates', 1);
  checkInteger(eta, 'eta', 2);
  return gmnasWasm().halvingRoundsToOne(candidates, eta);
}

/** The rounds of a successive-halving run: who trains how long, and how many survive each round. */
export function successiveHalvingSchedule(candidates: number, options: HalvingScheduleOptions = {}): HalvingRound[] {
  const eta = options.eta ?? 2;
  checkInteger(candidates, 'candidates', 1);
  checkInteger(eta, 'eta', 2);
  const wasm = gmnasWasm();
  const maxRounds = wasm.halvingRoundsToOne(candidates, eta);
  const rounds = options.rounds ?? maxRounds;
  if (!Number.isInteger(rounds) || rounds < 0 || rounds > maxRounds) {
    throw new Error(`rounds must be an integer in [0, ${maxRounds}] for ${candidates} candidates and eta ${eta} ` +
      `(after ${maxRounds} rounds one candidate is left), got ${rounds}`);
  }
  const { epochsPerRound, budget } = options;
  if ((epochsPerRound === undefined) === (budget === undefined)) {
    throw new Error('successiveHalvingSchedule: give exactly one of epochsPerRound and budget');
  }
  let epochs: number[] = [];
  if (epochsPerRound !== undefined) {
    epochs = typeof epochsPerRound === 'number' ? Array(rounds).fill(epochsPerRound) : [...epochsPerRound];
    if (epochs.length !== rounds) {
      throw new Error(`epochsPerRound lists ${epochs.length} rounds, but the schedule has ${rounds}`);
    }
    epochs.forEach((e, r) => checkInteger(e, `epochsPerRound[${r}]`, 1));
  } else if (!(Number.isFinite(budget) && (budget as number) > 0)) {
    throw new Error(`budget must be a positive number of candidate-epochs, got ${budget}`);
  }
  if (rounds === 0) return [];

  const scratch = new ScratchArrays(wasm, { epochs: ['i32', rounds], rows: ['i32', rounds * 3] });
  if (epochsPerRound !== undefined) scratch.i32('epochs').set(epochs);
  const status = wasm.halvingSchedule(candidates, eta, rounds, budget ?? -1, scratch.ptr('epochs'), scratch.ptr('rows'));
  if (status < 0) {
    const rows = scratch.i32('rows');
    const round = -status - 1;
    const alive = round === 0 ? candidates : rows[(round - 1) * 3 + 1];
    throw new Error(`budget ${budget} is too small: round ${round} has ${alive} candidates and would get ` +
      `less than one epoch each (needs at least ${rounds * alive})`);
  }
  const rows = scratch.i32('rows');
  const schedule: HalvingRound[] = [];
  let startEpoch = 0;
  for (let r = 0; r < rounds; r++) {
    const epochsThisRound = rows[r * 3 + 2];
    schedule.push({ round: r, alive: rows[r * 3], keep: rows[r * 3 + 1], epochs: epochsThisRound,
      startEpoch, endEpoch: startEpoch + epochsThisRound });
    startEpoch += epochsThisRound;
  }
  return schedule;
}

/** Candidate indices ordered best first (ties: lower index first; NaN last). */
export function rankCandidates(scores: readonly number[], higherIsBetter = true): number[] {
  checkScores(scores);
  const wasm = gmnasWasm();
  const scratch = new ScratchArrays(wasm, { scores: ['f64', scores.length], order: ['i32', scores.length] });
  scratch.f64('scores').set(scores);
  wasm.rankCandidates(scores.length, scratch.ptr('scores'), higherIsBetter ? 1 : 0, scratch.ptr('order'));
  return Array.from(scratch.i32('order'));
}

/** The candidates kept by one halving step: the best ⌈n/η⌉ (or `keep`) indices, best first. */
export function halvingKeep(scores: readonly number[], options: HalvingKeepOptions = {}): number[] {
  checkScores(scores);
  let keep: number;
  if (options.keep !== undefined) {
    if (options.eta !== undefined) throw new Error('halvingKeep: give eta or keep, not both');
    checkInteger(options.keep, 'keep', 1, scores.length);
    keep = options.keep;
  } else {
    const eta = options.eta ?? 2;
    checkInteger(eta, 'eta', 2);
    keep = gmnasWasm().halvingKeepCount(scores.length, eta);
  }
  return rankCandidates(scores, options.higherIsBetter ?? true).slice(0, keep);
}

/** One score per learning curve (each a non-empty array of per-epoch values). */
export function reduceLearningCurves(curves: readonly (readonly number[])[], reduction: CurveReduction = 'last',
                                     higherIsBetter = true): number[] {
  const mode = REDUCTIONS.indexOf(reduction);
  if (mode < 0) throw new Error(`reduction must be one of ${REDUCTIONS.join(', ')}, got ${JSON.stringify(reduction)}`);
  if (!Array.isArray(curves) || curves.length === 0) throw new Error('curves must be a non-empty array of learning curves');
  const offsets = [0];
  for (let c = 0; c < curves.length; c++) {
    const curve = curves[c];
    if (!Array.isArray(curve) || curve.length === 0) throw new Error(`curves[${c}] must be a non-empty array of numbers`);
    for (let t = 0; t < curve.length; t++) {
      if (typeof curve[t] !== 'number') throw new Error(`curves[${c}][${t}] must be a number, got ${typeof curve[t]}`);
    }
    offsets.push(offsets[c] + curve.length);
  }
  const wasm = gmnasWasm();
  const scratch = new ScratchArrays(wasm, {
    values: ['f64', offsets[curves.length]], offsets: ['i32', offsets.length], scores: ['f64', curves.length],
  });
  const values = scratch.f64('values');
  curves.forEach((curve, c) => values.set(curve, offsets[c]));
  scratch.i32('offsets').set(offsets);
  wasm.reduceCurves(curves.length, scratch.ptr('values'), scratch.ptr('offsets'), mode, higherIsBetter ? 1 : 0,
    scratch.ptr('scores'));
  return Array.from(scratch.f64('scores'));
}

export interface SuccessiveHalvingOptions extends HalvingScheduleOptions {
  higherIsBetter?: boolean;
  /** How each round's curve becomes a score; default 'last'. */
  reduction?: CurveReduction;
}

export interface HalvingRoundResult extends HalvingRound {
  /** Candidates trained this round, ascending. */
  candidates: number[];
  /** Score of each of `candidates`, same order. */
  scores: number[];
  /** Survivors, best first. */
  kept: number[];
}

export interface SuccessiveHalvingResult {
  /** Best survivor of the last round (candidate 0 when there is a single candidate). */
  winner: number;
  /** Survivors of the last round, best first. */
  survivors: number[];
  rounds: HalvingRoundResult[];
}

/**
 * Runs successive halving. `trainRound(alive, round)` trains each alive candidate for `round.epochs`
 * more epochs (in parallel if it likes) and returns, per alive candidate in the same order, the curve
 * of that round (one value per epoch, or fewer, e.g. one final validation accuracy).
 */
export async function runSuccessiveHalving(
  candidates: number,
  trainRound: (alive: number[], round: HalvingRound) => Promise<number[][]> | number[][],
  options: SuccessiveHalvingOptions = {},
): Promise<SuccessiveHalvingResult> {
  const higherIsBetter = options.higherIsBetter ?? true;
  const schedule = successiveHalvingSchedule(candidates, options);
  let alive = Array.from({ length: candidates }, (_, i) => i);
  const rounds: HalvingRoundResult[] = [];
  for (const round of schedule) {
    const curves = await trainRound([...alive], round);
    if (!Array.isArray(curves) || curves.length !== alive.length) {
      throw new Error(`trainRound for round ${round.round} returned ${Array.isArray(curves) ? curves.length : typeof curves} ` +
        `curves for ${alive.length} candidates`);
    }
    const scores = reduceLearningCurves(curves, options.reduction ?? 'last', higherIsBetter);
    const kept = halvingKeep(scores, { keep: round.keep, higherIsBetter }).map((i) => alive[i]);
    rounds.push({ ...round, candidates: alive, scores, kept });
    alive = [...kept].sort((a, b) => a - b);
  }
  const survivors = rounds.length ? rounds[rounds.length - 1].kept : alive;
  return { winner: survivors[0], survivors, rounds };
}

function checkInteger(value: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer${max === Number.MAX_SAFE_INTEGER ? ` ≥ ${min}` : ` in [${min}, ${max}]`}, got ${value}`);
  }
}

function checkScores(scores: readonly number[]): void {
  if (!Array.isArray(scores) || scores.length === 0) throw new Error('scores must be a non-empty array of numbers');
  scores.forEach((s, i) => {
    if (typeof s !== 'number') throw new Error(`scores[${i}] must be a number, got ${typeof s}`);
  });
}
