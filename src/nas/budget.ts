// Deployment budgets (`--max-flops`, `--max-params`): a hard constraint on the architectures a search
// may return, for spaces with a cost model (SearchSpace.cost; MobileNet: parameters and multiply-adds
// at the search's resolution). How it acts:
//   - before any work: the budget must admit at least one architecture (the cheapest found by the
//     descent below from any start), else a one-line error naming the flag;
//   - each leaf: its derived genotype, when over budget, is replaced by the nearest genotype within it —
//     a greedy descent that, step after step, moves one decision to a cheaper enabled op, choosing the
//     move that gives up least α per unit of budget excess removed (α loss / excess drop; without α,
//     the largest drop); the unconstrained pick is kept in the leaf's record;
//   - the final pick: only leaves within budget compete; none within budget is an error.
// "FLOPs" here are multiply-adds (ProxylessNAS's and the usual MobileNet convention). ProxylessNAS's
// own expected-latency loss on α is not modelled (docs/mobilenet.md). Browser-safe.
import type { SearchSpace, Genotype, OpMask, SpaceSizes } from '../spaces/space.js';

export interface Budget {
  /** most multiply-adds of one image at the search resolution */
  maxMacs?: number;
  /** most parameters */
  maxParams?: number;
}

export interface GenotypeCost { params: number; macs: number; resolution: number }

export type CostFn = (g: Genotype) => GenotypeCost;

/** The cost function of a space at the given sizes and resolution (throws when the space has none). */
export function costFunction(space: SearchSpace, sizes: SpaceSizes, resolution: number, flag = '--max-flops'): CostFn {
  const cost = space.cost;
  if (!cost) throw new Error(`${flag}: the ${space.name} space has no cost model (parameters / multiply-adds); only spaces with one take a budget`);
  return (g) => ({ ...cost.call(space, g, sizes, resolution), resolution });
}

/** How far over budget: the largest ratio value / limit over the limits set (≤ 1: within budget). */
export function budgetExcess(c: GenotypeCost, b: Budget): number {
  let e = 0;
  if (b.maxMacs !== undefined) e = Math.max(e, c.macs / b.maxMacs);
  if (b.maxParams !== undefined) e = Math.max(e, c.params / b.maxParams);
  return e;
}

export function withinBudget(c: GenotypeCost, b: Budget): boolean { return budgetExcess(c, b) <= 1; }

/** One line saying what exceeds the budget (null when within). */
export function describeExcess(c: GenotypeCost, b: Budget): string | null {
  const parts: string[] = [];
  if (b.maxMacs !== undefined && c.macs > b.maxMacs) parts.push(`${c.macs} multiply-adds > --max-flops ${b.maxMacs}`);
  if (b.maxParams !== undefined && c.params > b.maxParams) parts.push(`${c.params} parameters > --max-params ${b.maxParams}`);
  return parts.length ? `${parts.join(', ')} (at ${c.resolution}×${c.resolution})` : null;
}

/**
 * The greedy descent (file comment) from `g` inside `mask`: a genotype within budget, or null when no
 * single-decision move lowers the excess any further before the budget is met. `alpha`: row-major
 * [rows, cols] (null: every op alike). Single-op genotypes only (every decision runs one op).
 */
export function fitToBudget(space: SearchSpace, g: Genotype, mask: OpMask, alpha: ArrayLike<number> | null, cost: CostFn, b: Budget): Genotype | null {
  let cur = [...g];
  let excess = budgetExcess(cost(cur), b);
  while (excess > 1) {
    let best: { g: number[]; excess: number; score: number } | null = null;
    for (let d = 0; d < space.rows; d++) {
      for (const j of space.enabledOps(mask, d)) {
        if (j === cur[d]) continue;
        const next = [...cur];
        next[d] = j;
        const e = budgetExcess(cost(next), b);
        const drop = excess - e;
        if (!(drop > 0)) continue;
        const loss = alpha ? alpha[d * space.cols + cur[d]] - alpha[d * space.cols + j] : 0;
        const score = alpha ? loss / drop : -drop;
        if (!best || score < best.score) best = { g: next, excess: e, score };
      }
    }
    if (!best) return null;
    cur = best.g;
    excess = best.excess;
  }
  return cur;
}

/** The cheapest architecture the descent reaches from the unweighted argmax (for the up-front check
 *  and its message). */
export function cheapestReached(space: SearchSpace, mask: OpMask, cost: CostFn, b: Budget): { genotype: Genotype; cost: GenotypeCost } {
  // first-improvement descent on the excess until no single move lowers it
  let cur: Genotype = space.derive(new Float32Array(space.rows * space.cols), mask);
  for (;;) {
    const before = budgetExcess(cost(cur), b);
    let next: Genotype | null = null;
    for (let d = 0; d < space.rows && !next; d++) {
      for (const j of space.enabledOps(mask, d)) {
        const t = [...cur];
        t[d] = j;
        if (budgetExcess(cost(t), b) < before) { next = t; break; }
      }
    }
    if (!next) return { genotype: cur, cost: cost(cur) };
    cur = next;
  }
}

/** Throws a one-line error naming the flag when no architecture of `mask` fits the budget. */
export function checkBudgetFeasible(space: SearchSpace, mask: OpMask, cost: CostFn, b: Budget): void {
  const c = cheapestReached(space, mask, cost, b);
  const why = describeExcess(c.cost, b);
  if (why) {
    const flag = b.maxMacs !== undefined && c.cost.macs > b.maxMacs ? '--max-flops' : '--max-params';
    throw new Error(`${flag}: no architecture fits: the cheapest, ${space.formatGenotype(c.genotype)}, has ${why}`);
  }
}

/** The search's budget from its config (null: none set). */
export function configBudget(c: { maxMacs?: number; maxParams?: number }): Budget | null {
  if (c.maxMacs === undefined && c.maxParams === undefined) return null;
  return { ...(c.maxMacs !== undefined ? { maxMacs: c.maxMacs } : {}), ...(c.maxParams !== undefined ? { maxParams: c.maxParams } : {}) };
}
