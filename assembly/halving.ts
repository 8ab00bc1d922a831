// Successive halving (Karnin et al. 2013; GM-NAS's `successive_halving.py` for the DARTS space):
// train every alive candidate for a round, score it from its learning curve, keep the best ⌈alive/η⌉.

/** Candidates kept out of `alive` with reduction factor `eta`: ⌈alive/η⌉. */
export function halvingKeepCount(alive: i32, eta: i32): i32 {
  return (alive + eta - 1) / eta;
}

/** Rounds until one candidate is left: the smallest r with ⌈…⌈n/η⌉…/η⌉ = 1. */
export function halvingRoundsToOne(candidates: i32, eta: i32): i32 {
  let rounds = 0;
  let alive = candidates;
  while (alive > 1) {
    alive = halvingKeepCount(alive, eta);
    rounds++;
  }
  return rounds;
}

/**
 * Fills `rounds` rows of i32 [alive, keep, epochs] at `outPtr`. Epochs per round come from
 * `epochsPtr` (i32 × rounds) when `budget` < 0; otherwise from a total budget of candidate-epochs split
 * evenly over the rounds and, within a round, over its alive candidates: ⌊budget / (rounds · alive)⌋
 * (Karnin et al.'s allocation). Returns 0, or −(r+1) when round r would get fewer than one epoch.
 */
export function halvingSchedule(candidates: i32, eta: i32, rounds: i32, budget: f64,
                                epochsPtr: usize, outPtr: usize): i32 {
  let alive = candidates;
  for (let r = 0; r < rounds; r++) {
    const keep = halvingKeepCount(alive, eta);
    const epochs = budget < 0
      ? load<i32>(epochsPtr + ((<usize>r) << 2))
      : <i32>Math.floor(budget / (<f64>rounds * <f64>alive));
    if (epochs < 1) return -(r + 1);
    const row = outPtr + (<usize>r) * 12;
    store<i32>(row, alive);
    store<i32>(row + 4, keep);
    store<i32>(row + 8, epochs);
    alive = keep;
  }
  return 0;
}

/** Curve reductions for `reduceCurves`. */
export const REDUCE_LAST: i32 = 0;
export const REDUCE_MEAN: i32 = 1;
export const REDUCE_BEST: i32 = 2;
/** GM's "moving average": avg ← (avg·t·0.1 + 0.9·v_t)/(t+1) for t = 0,1,… (`successive_halving.py`). */
export const REDUCE_GM_MOVING_AVERAGE: i32 = 3;

/**
 * One score per curve. Curve c is values[offsets[c] .. offsets[c+1]) (f64 values, i32 offsets, every
 * curve non-empty). NaN values propagate through last/mean/moving average; `best` skips them (NaN only
 * when the whole curve is NaN). Writes `count` f64 scores to `outPtr`.
 */
export function reduceCurves(count: i32, valuesPtr: usize, offsetsPtr: usize, reduction: i32,
                             higherIsBetter: i32, outPtr: usize): void {
  for (let c = 0; c < count; c++) {
    const start = load<i32>(offsetsPtr + ((<usize>c) << 2));
    const end = load<i32>(offsetsPtr + ((<usize>(c + 1)) << 2));
    let score = NaN;
    if (reduction == REDUCE_LAST) {
      score = load<f64>(valuesPtr + ((<usize>(end - 1)) << 3));
    } else if (reduction == REDUCE_MEAN) {
      let sum = 0.0;
      for (let t = start; t < end; t++) sum += load<f64>(valuesPtr + ((<usize>t) << 3));
      score = sum / <f64>(end - start);
    } else if (reduction == REDUCE_BEST) {
      for (let t = start; t < end; t++) {
        const v = load<f64>(valuesPtr + ((<usize>t) << 3));
        if (isNaN(v)) continue;
        if (isNaN(score) || (higherIsBetter ? v > score : v < score)) score = v;
      }
    } else {
      let average = 0.0;
      for (let t = start; t < end; t++) {
        const step = <f64>(t - start);
        const v = load<f64>(valuesPtr + ((<usize>t) << 3));
        average = (average * step * 0.1 + v * 0.9) / (step + 1);
      }
      score = average;
    }
    store<f64>(outPtr + ((<usize>c) << 3), score);
  }
}

/**
 * Writes the candidate indices 0..count−1 to `outOrderPtr` (i32) best first: higher scores first when
 * `higherIsBetter`, lower first otherwise; NaN scores last; equal scores by lower index.
 */
export function rankCandidates(count: i32, scoresPtr: usize, higherIsBetter: i32, outOrderPtr: usize): void {
  for (let i = 0; i < count; i++) store<i32>(outOrderPtr + ((<usize>i) << 2), i);
  // Insertion sort: stable, so candidates with equal scores keep ascending index order.
  for (let i = 1; i < count; i++) {
    const candidate = load<i32>(outOrderPtr + ((<usize>i) << 2));
    const score = load<f64>(scoresPtr + ((<usize>candidate) << 3));
    let j = i - 1;
    while (j >= 0) {
      const other = load<i32>(outOrderPtr + ((<usize>j) << 2));
      const otherScore = load<f64>(scoresPtr + ((<usize>other) << 3));
      if (!ranksBefore(score, otherScore, higherIsBetter)) break;
      store<i32>(outOrderPtr + ((<usize>(j + 1)) << 2), other);
      j--;
    }
    store<i32>(outOrderPtr + ((<usize>(j + 1)) << 2), candidate);
  }
}

/** Strictly better: a real number beats NaN; otherwise by the direction flag. */
function ranksBefore(score: f64, other: f64, higherIsBetter: i32): bool {
  if (isNaN(score)) return false;
  if (isNaN(other)) return true;
  return higherIsBetter ? score > other : score < other;
}
