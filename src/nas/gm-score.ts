// The gradient-matching score of one edge (spec §3.3): how differently the candidate ops on edge e
// pull the weights every op shares. Per repeat: one fresh training batch and one base-method
// architecture sample θ shared by all candidates; candidate o replaces edge e's ops alone at weight 1
// (`--hard 1`; in the DARTS space at its sampled weight, spec §5.1); its gradient of the shared parameters (ops of the other edges + both reduction blocks,
// not stem/head) is taken; the distance between candidates i and j is 1 − cos(g_i, g_j) over one
// flattened vector (the reference's `cos`), and the matrices are averaged over the repeats.
//
// Alternative metrics (`--gm-metric`), as in the reference's `match_loss`:
//   per-filter-cos  Σ over tensors with ≥ 2 dims of Σ over output filters of 1 − cos (1-D tensors skipped);
//   l2              ‖g_i − g_j‖² (the reference's `mse`: a sum of squares, not a mean).
//
// Gradients are read to the host once per candidate, all shared tensors in one device round trip
// (readTensors); the pairwise sums are host loops. At NB201 size
// that is 5 × ~1.2 M floats per repeat — small next to the 5 forward/backward passes.
import { tidy, backward, crossEntropy, readTensors } from '../engine/index.js';
import type { Tensor } from '../engine/index.js';
import type { BaseMethod } from '../search/method.js';
import { uploadBatch, type BatchSource } from '../search/batch.js';

export const GM_METRICS = ['cos', 'per-filter-cos', 'l2'] as const;
export type GmMetric = (typeof GM_METRICS)[number];

export interface EdgeScoreOptions {
  /** repeats R (spec: 100) */
  repeats: number;
  metric: GmMetric;
  /** training batches (the weights half) */
  batches: BatchSource;
  /** called after each repeat */
  onRepeat?: (done: number) => void;
}

export interface EdgeDistance {
  edge: number;
  /** the candidate ops (op columns of the edge), in the order of the matrix rows */
  ops: number[];
  /** ops.length × ops.length, symmetric, zero diagonal */
  distance: number[][];
}

/** One candidate's gradient: per shared tensor its values (null: the pass did not reach the tensor, so
 *  its gradient is zero) and its shape. Single-path samples (ProxylessNAS, RSPS, GDAS) leave most of a
 *  supernet's candidates unreached: skipping their zeros keeps 'cos' and 'l2' exactly as with the
 *  zeros written out (a sum plus 0 is the sum) and saves reading and scanning them. */
type Gradient = { data: Float32Array | null; shape: readonly number[] }[];

const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Distance between two gradients under `metric` (exported for tests). */
export function gradientDistance(a: Gradient, b: Gradient, metric: GmMetric): number {
  if (metric === 'cos') {
    let dot = 0, na = 0, nb = 0;
    for (let t = 0; t < a.length; t++) {
      const x = a[t].data, y = b[t].data;
      if (x && y) {
        for (let i = 0; i < x.length; i++) { dot += x[i] * y[i]; na += x[i] * x[i]; nb += y[i] * y[i]; }
      } else if (x) {
        for (let i = 0; i < x.length; i++) na += x[i] * x[i];
      } else if (y) {
        for (let i = 0; i < y.length; i++) nb += y[i] * y[i];
      }
    }
    // the reference adds 1e-6 to the product of the norms
    return 1 - dot / (Math.sqrt(na) * Math.sqrt(nb) + 1e-6);
  }
  if (metric === 'l2') {
    let s = 0;
    for (let t = 0; t < a.length; t++) {
      const x = a[t].data, y = b[t].data;
      if (x && y) {
        for (let i = 0; i < x.length; i++) { const d = x[i] - y[i]; s += d * d; }
      } else if (x || y) {
        const z = (x ?? y)!;
        for (let i = 0; i < z.length; i++) s += z[i] * z[i];
      }
    }
    return s;
  }
  let total = 0;
  for (let t = 0; t < a.length; t++) {
    const shape = a[t].shape;
    if (shape.length < 2) continue;
    // per filter, a zero gradient still counts (1 − 0 per filter, as the reference's zeros)
    const x = a[t].data ?? new Float32Array(sizeOf(shape)), y = b[t].data ?? new Float32Array(sizeOf(shape));
    const filters = shape[0], per = x.length / filters;
    for (let f = 0; f < filters; f++) {
      let dot = 0, na = 0, nb = 0;
      for (let i = f * per; i < (f + 1) * per; i++) { dot += x[i] * y[i]; na += x[i] * x[i]; nb += y[i] * y[i]; }
      total += 1 - dot / (Math.sqrt(na) * Math.sqrt(nb) + 1e-6);
    }
  }
  return total;
}

/** Pairwise distance matrix of candidate gradients. */
export function distanceMatrix(grads: Gradient[], metric: GmMetric): number[][] {
  const n = grads.length;
  const d = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) d[i][j] = d[j][i] = gradientDistance(grads[i], grads[j], metric);
  }
  return d;
}

/** The shared parameters' gradients, read in one device round trip (a few hundred tensors per pass
 *  in the DARTS space: one read each would cost a submit and a buffer map apiece). */
async function readGradient(params: Tensor[]): Promise<Gradient> {
  const withGrad = params.filter((p) => p.grad);
  const data = await readTensors(withGrad.map((p) => p.grad!));
  const byParam = new Map(withGrad.map((p, i) => [p, data[i]]));
  return params.map((p) => ({ shape: p.shape, data: byParam.get(p) ?? null }));
}

/**
 * GM distance matrix of `edge` for the (sub-)supernet of `method`. BN runs in training mode (batch
 * statistics; running statistics move, as in the reference). The weights are not changed.
 */
export async function gmEdgeDistance(method: BaseMethod, edge: number, o: EdgeScoreOptions): Promise<EdgeDistance> {
  if (!Number.isInteger(o.repeats) || o.repeats < 1) throw new Error(`GM score: repeats must be a positive integer, got ${o.repeats}`);
  const space = method.space;
  const keepWeight = space.split.splitWeight === 'sample';
  const ops = space.enabledOps(method.mask, edge);
  if (ops.length < 2) throw new Error(`GM score: edge ${edge} has ${ops.length} enabled op(s); nothing to split`);
  const be = method.backend;
  const net = method.supernet;
  const shared = net.sharedParameters(edge);
  const all = net.parameters();
  const clear = (): void => { for (const p of all) { p.grad?.dispose(); p.grad = null; } };
  const sum = ops.map(() => new Array<number>(ops.length).fill(0));
  const wasTraining = net.training;
  net.train(true);
  // GDAS draws its hard sample from α values read on the host; the others ignore this
  const alphaHost = await method.alphaValues();
  try {
    for (let r = 0; r < o.repeats; r++) {
      const batch = uploadBatch(be, o.batches.next(), method.imageShape);
      const grads: Gradient[] = [];
      try {
        const base = tidy(() => method.sampleArch({ withGrad: false, alphaHost }));
        try {
          for (const op of ops) {
            clear();
            tidy(() => {
              const sample = space.replaceDecisionOp(base, edge, op, keepWeight);
              backward(crossEntropy(net.forward(batch.x, sample), batch.y));
            });
            grads.push(await readGradient(shared));
          }
        } finally {
          base.weights?.dispose();
        }
      } finally {
        batch.x.dispose();
        batch.y.dispose();
        clear();
      }
      const d = distanceMatrix(grads, o.metric);
      for (let i = 0; i < ops.length; i++) for (let j = 0; j < ops.length; j++) sum[i][j] += d[i][j];
      o.onRepeat?.(r + 1);
    }
  } finally {
    net.train(wasTraining);
  }
  return { edge, ops, distance: sum.map((row) => row.map((v) => v / o.repeats)) };
}
