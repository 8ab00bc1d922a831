import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  halvingKeep, halvingRoundsToOne, rankCandidates, reduceLearningCurves, runSuccessiveHalving,
  successiveHalvingSchedule, type HalvingRound,
} from '../../src/nas/halving.js';

/** GM's moving_avg_of_list (successive_halving.py), transcribed independently. */
function gmMovingAverage(values: number[]): number {
  let avg = 0;
  values.forEach((v, id) => { avg = (avg * id * 0.1 + v * 0.9) / (id + 1); });
  return avg;
}

const round = (r: number, alive: number, keep: number, epochs: number, startEpoch: number): HalvingRound =>
  ({ round: r, alive, keep, epochs, startEpoch, endEpoch: startEpoch + epochs });

test('rounds to one candidate', () => {
  assert.is(halvingRoundsToOne(1, 2), 0);
  assert.is(halvingRoundsToOne(2, 2), 1);
  assert.is(halvingRoundsToOne(8, 2), 3);   // 8 → 4 → 2 → 1
  assert.is(halvingRoundsToOne(5, 2), 3);   // 5 → 3 → 2 → 1
  assert.is(halvingRoundsToOne(8, 3), 2);   // 8 → 3 → 1
  assert.is(halvingRoundsToOne(10, 3), 3);  // 10 → 4 → 2 → 1
  assert.is(halvingRoundsToOne(9, 3), 2);   // 9 → 3 → 1
});

test('schedule with fixed epochs per round', () => {
  assert.equal(successiveHalvingSchedule(8, { eta: 2, epochsPerRound: 10 }),
    [round(0, 8, 4, 10, 0), round(1, 4, 2, 10, 10), round(2, 2, 1, 10, 20)]);
  assert.equal(successiveHalvingSchedule(10, { eta: 3, epochsPerRound: [1, 2, 4] }),
    [round(0, 10, 4, 1, 0), round(1, 4, 2, 2, 1), round(2, 2, 1, 4, 3)]);
  // GM's DARTS-space selection: 8 leaves, two phases (30 then 70 epochs), 8 → 4 → 2
  assert.equal(successiveHalvingSchedule(8, { rounds: 2, epochsPerRound: [30, 70] }),
    [round(0, 8, 4, 30, 0), round(1, 4, 2, 70, 30)]);
  assert.equal(successiveHalvingSchedule(1, { epochsPerRound: 5 }), []);
});

test('schedule from a total budget: ⌊budget / (rounds · alive)⌋ per candidate', () => {
  // 240 candidate-epochs, 3 rounds: 80 per round → 10 each for 8, 20 each for 4, 40 each for 2
  assert.equal(successiveHalvingSchedule(8, { budget: 240 }),
    [round(0, 8, 4, 10, 0), round(1, 4, 2, 20, 10), round(2, 2, 1, 40, 30)]);
  // 100 over 2 rounds with η = 3: 50/8 → 6, 50/3 → 16
  assert.equal(successiveHalvingSchedule(8, { eta: 3, budget: 100 }),
    [round(0, 8, 3, 6, 0), round(1, 3, 1, 16, 6)]);
  assert.throws(() => successiveHalvingSchedule(8, { budget: 20 }), /budget 20 is too small: round 0 has 8 candidates/);
});

test('schedule validation', () => {
  assert.throws(() => successiveHalvingSchedule(8, {}), /exactly one of epochsPerRound and budget/);
  assert.throws(() => successiveHalvingSchedule(8, { epochsPerRound: 1, budget: 10 }), /exactly one/);
  assert.throws(() => successiveHalvingSchedule(8, { rounds: 4, epochsPerRound: 1 }), /rounds must be an integer in \[0, 3\]/);
  assert.throws(() => successiveHalvingSchedule(8, { eta: 1, epochsPerRound: 1 }), /eta must be an integer ≥ 2, got 1/);
  assert.throws(() => successiveHalvingSchedule(0, { epochsPerRound: 1 }), /candidates must be an integer ≥ 1, got 0/);
  assert.throws(() => successiveHalvingSchedule(8, { epochsPerRound: [1, 2] }), /lists 2 rounds, but the schedule has 3/);
  assert.throws(() => successiveHalvingSchedule(8, { epochsPerRound: 0 }), /epochsPerRound\[0\] must be an integer ≥ 1/);
  assert.throws(() => successiveHalvingSchedule(8, { budget: -5 }), /budget must be a positive number/);
});

test('elimination keeps the top ⌈n/η⌉, ties to the lower index, NaN last', () => {
  assert.equal(halvingKeep([0.5, 0.9, 0.9, 0.1]), [1, 2]);
  assert.equal(halvingKeep([0.7, 0.7, 0.7]), [0, 1]);                 // ⌈3/2⌉ = 2, all tied
  assert.equal(halvingKeep([0.3, 0.1, 0.2, 0.1], { higherIsBetter: false }), [1, 3]);
  assert.equal(halvingKeep([1, 2, 3, 4, 5, 6, 7], { eta: 3 }), [6, 5, 4]); // ⌈7/3⌉ = 3
  assert.equal(halvingKeep([4, 4, 9, 4, 1], { keep: 3 }), [2, 0, 1]);
  assert.equal(halvingKeep([NaN, 0.2, 0.1]), [1, 2]);
  assert.equal(halvingKeep([NaN, 0.2, 0.1], { higherIsBetter: false }), [2, 1]);
  assert.equal(halvingKeep([5]), [0]);
  assert.equal(rankCandidates([NaN, 3, NaN, 3, -1]), [1, 3, 4, 0, 2]);
  assert.equal(rankCandidates([2, -Infinity, Infinity, 2], false), [1, 0, 3, 2]);
});

test('elimination against a sort-based reference on random scores with ties', () => {
  let s = 12345;
  const next = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  for (let t = 0; t < 200; t++) {
    const n = 1 + Math.floor(next() * 20);
    const scores = Array.from({ length: n }, () => Math.floor(next() * 5) / 4);
    const higher = t % 2 === 0;
    const eta = 2 + (t % 3);
    const reference = scores.map((v, i) => ({ v, i }))
      .sort((a, b) => (a.v === b.v ? a.i - b.i : higher ? b.v - a.v : a.v - b.v))
      .map((x) => x.i).slice(0, Math.ceil(n / eta));
    assert.equal(halvingKeep(scores, { eta, higherIsBetter: higher }), reference);
  }
});

test('learning-curve reductions', () => {
  const curves = [[10, 20], [50], [30, 10, 20], [1, NaN, 3]];
  assert.equal(reduceLearningCurves(curves, 'last'), [20, 50, 20, 3]);
  const mean = reduceLearningCurves(curves, 'mean');
  assert.equal(mean.slice(0, 3), [15, 50, 20]);
  assert.ok(Number.isNaN(mean[3]));
  assert.equal(reduceLearningCurves(curves, 'best'), [20, 50, 30, 3]);
  assert.equal(reduceLearningCurves(curves, 'best', false), [10, 50, 10, 1]);
  assert.ok(Number.isNaN(reduceLearningCurves([[NaN, NaN]], 'best')[0]));
  const moving = reduceLearningCurves(curves.slice(0, 3), 'gm-moving-average');
  assert.ok(Math.abs(moving[0] - 9.45) < 1e-12); // (0.9·1·… worked by hand: 9, then (0.9 + 18)/2)
  curves.slice(0, 3).forEach((c, i) => assert.ok(Math.abs(moving[i] - gmMovingAverage(c)) < 1e-12));
  assert.throws(() => reduceLearningCurves([[1], []]), /curves\[1\] must be a non-empty array/);
  assert.throws(() => reduceLearningCurves([[1]], 'median' as never), /reduction must be one of/);
  assert.throws(() => reduceLearningCurves([]), /non-empty array of learning curves/);
});

test('runSuccessiveHalving trains the survivors for the scheduled epochs and picks the best', async () => {
  const quality = [0.60, 0.72, 0.55, 0.72, 0.80, 0.30, 0.79, 0.50];
  const calls: { alive: number[]; epochs: number; startEpoch: number }[] = [];
  const result = await runSuccessiveHalving(quality.length, (alive, r) => {
    calls.push({ alive, epochs: r.epochs, startEpoch: r.startEpoch });
    // accuracy curve rising with training; candidate 6 learns late and overtakes 4 in round 2
    return alive.map((c) => Array.from({ length: r.epochs }, (_, k) => {
      const epoch = r.startEpoch + k + 1;
      return quality[c] + (c === 6 && epoch > 3 ? 0.05 : 0) - 0.1 / epoch;
    }));
  }, { epochsPerRound: [1, 2, 3] });
  assert.equal(calls, [
    { alive: [0, 1, 2, 3, 4, 5, 6, 7], epochs: 1, startEpoch: 0 },
    { alive: [1, 3, 4, 6], epochs: 2, startEpoch: 1 },
    { alive: [4, 6], epochs: 3, startEpoch: 3 },
  ]);
  assert.equal(result.rounds.map((r) => r.kept), [[4, 6, 1, 3], [4, 6], [6]]);
  assert.is(result.winner, 6);
  assert.equal(result.survivors, [6]);
  assert.equal(result.rounds[1].candidates, [1, 3, 4, 6]);
  assert.ok(Math.abs(result.rounds[1].scores[0] - (0.72 - 0.1 / 3)) < 1e-12);
});

test('runSuccessiveHalving with losses, fewer rounds and a bad callback', async () => {
  const loss = [2.0, 1.0, 1.5, 1.0, 3.0];
  const result = await runSuccessiveHalving(5, (alive) => alive.map((c) => [loss[c] + 1, loss[c]]),
    { rounds: 1, epochsPerRound: 2, higherIsBetter: false, reduction: 'mean' });
  assert.equal(result.survivors, [1, 3, 2]);
  assert.is(result.winner, 1);
  let message = '';
  try {
    await runSuccessiveHalving(4, () => [[1]], { epochsPerRound: 1 });
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /returned 1 curves for 4 candidates/);
});

test.run();
