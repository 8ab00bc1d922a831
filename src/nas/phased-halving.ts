// Successive halving by a space's reference schedule (SearchSpace.halvingProtocol; DARTS: GM's
// successive_halving.py, spec §5.1). Unlike the generic rounds of halving.ts — each round trains its
// survivors from scratch — every candidate here trains ONCE, on one long cosine, and is only paused
// at the phase ends: phase k looks at the per-epoch validation accuracies of epochs [from, to), reduces
// them to a score, and keeps the better half. The last phase's best survivor is the pick.
import type { HalvingProtocol } from '../spaces/space.js';
import { halvingKeep, reduceLearningCurves } from './halving.js';

export interface PhasedHalvingRound {
  round: number;
  /** the epochs whose accuracies were scored: [from, to) */
  from: number;
  to: number;
  /** candidates trained to `to`, ascending */
  candidates: number[];
  /** their scores, same order */
  scores: number[];
  /** survivors, best first */
  kept: number[];
}

export interface PhasedHalvingResult {
  winner: number;
  survivors: number[];
  rounds: PhasedHalvingRound[];
}

/** Checks a protocol: phases inside [0, horizon], each non-empty, in order. */
export function checkHalvingProtocol(p: HalvingProtocol): void {
  if (!Number.isInteger(p.horizon) || p.horizon < 1) throw new Error(`halving protocol: horizon must be a positive integer, got ${p.horizon}`);
  if (!p.phases.length) throw new Error('halving protocol: no phase');
  let end = 0;
  p.phases.forEach((ph, i) => {
    if (!Number.isInteger(ph.from) || !Number.isInteger(ph.to) || ph.from < end || ph.to <= ph.from || ph.to > p.horizon) {
      throw new Error(`halving protocol: phase ${i} [${ph.from}, ${ph.to}) must be non-empty, after epoch ${end} and within the ${p.horizon}-epoch horizon`);
    }
    end = ph.to;
  });
}

/**
 * Runs the schedule over `candidates`. `advance(alive, to, round)` trains every alive candidate on to
 * epoch `to` (continuing where it paused) and returns, per alive candidate in the same order, its
 * per-epoch accuracies so far (index = epoch, at least `to` values). Phases stop once one candidate is
 * left; ties go to the lower index.
 */
export async function runPhasedHalving(
  candidates: number, p: HalvingProtocol,
  advance: (alive: number[], to: number, round: number) => Promise<number[][]>,
): Promise<PhasedHalvingResult> {
  if (!Number.isInteger(candidates) || candidates < 1) throw new Error(`halving: candidates must be a positive integer, got ${candidates}`);
  checkHalvingProtocol(p);
  let alive = Array.from({ length: candidates }, (_, i) => i);
  const rounds: PhasedHalvingRound[] = [];
  for (const [round, ph] of p.phases.entries()) {
    if (alive.length === 1) break;
    const curves = await advance([...alive], ph.to, round);
    if (curves.length !== alive.length) throw new Error(`halving round ${round}: ${curves.length} curves for ${alive.length} candidates`);
    curves.forEach((cv, i) => {
      if (cv.length < ph.to) throw new Error(`halving round ${round}: candidate ${alive[i]} has ${cv.length} epochs, the phase ends at ${ph.to}`);
    });
    const scores = reduceLearningCurves(curves.map((cv) => cv.slice(ph.from, ph.to)), p.reduction);
    const kept = halvingKeep(scores, { keep: Math.ceil(alive.length / 2) }).map((i) => alive[i]!);
    rounds.push({ round, from: ph.from, to: ph.to, candidates: alive, scores, kept });
    alive = [...kept].sort((a, b) => a - b);
  }
  const survivors = rounds.length ? rounds[rounds.length - 1]!.kept : alive;
  return { winner: survivors[0]!, survivors, rounds };
}
