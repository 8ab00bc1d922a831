// Softmax family over the last axis of [rows, cols], cross-entropy with label smoothing, accuracy.
import type { RowsGeom } from '../backend.js';

/** y = softmax(x) or log_softmax(x) per row, max-shifted for stability. */
export function softmax(x: Float32Array, y: Float32Array, g: RowsGeom, log: boolean): void {
  const { rows, cols } = g;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[base + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[base + c] - max);
    if (log) {
      const shift = max + Math.log(s);
      for (let c = 0; c < cols; c++) y[base + c] = x[base + c] - shift;
    } else {
      for (let c = 0; c < cols; c++) y[base + c] = Math.exp(x[base + c] - max) / s;
    }
  }
}

/**
 * softmax:     dx = y * (dy - sum(dy * y))
 * log-softmax: dx = dy - exp(y) * sum(dy)
 */
export function softmaxBackward(dy: Float32Array, y: Float32Array, dx: Float32Array, g: RowsGeom,
  log: boolean): void {
  const { rows, cols } = g;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    if (log) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += dy[base + c];
      for (let c = 0; c < cols; c++) dx[base + c] = dy[base + c] - Math.exp(y[base + c]) * s;
    } else {
      let s = 0;
      for (let c = 0; c < cols; c++) s += dy[base + c] * y[base + c];
      for (let c = 0; c < cols; c++) dx[base + c] = y[base + c] * (dy[base + c] - s);
    }
  }
}

/** The class index stored (as f32) in labels[r]; throws for anything that is not a valid class. */
export function labelOf(labels: Float32Array, r: number, cols: number, op: string): number {
  const label = labels[r];
  if (!(Number.isInteger(label) && label >= 0 && label < cols)) {
    throw new Error(`${op}: label ${label} of row ${r} is not a class index in [0, ${cols})`);
  }
  return label;
}

/**
 * loss[0] = mean over rows of -sum_c target_c * log_softmax(x)_c, target = (1-s)*onehot + s/cols,
 * i.e. (1-s) * nll + s * mean_c(-log p_c) as torch.nn.CrossEntropyLoss(label_smoothing=s).
 */
export function crossEntropy(logits: Float32Array, labels: Float32Array, loss: Float32Array,
  probs: Float32Array, g: RowsGeom, smoothing: number): void {
  const { rows, cols } = g;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const label = labelOf(labels, r, cols, 'crossEntropy');
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, logits[base + c]);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(logits[base + c] - max);
    const logZ = max + Math.log(s);
    let sumNegLogP = 0;
    for (let c = 0; c < cols; c++) {
      probs[base + c] = Math.exp(logits[base + c] - logZ);
      sumNegLogP += logZ - logits[base + c];
    }
    const nll = logZ - logits[base + label];
    total += (1 - smoothing) * nll + smoothing * sumNegLogP / cols;
  }
  loss[0] = total / rows;
}

/** dlogits = dloss[0] * (probs - target) / rows */
export function crossEntropyBackward(probs: Float32Array, labels: Float32Array, dloss: Float32Array,
  dlogits: Float32Array, g: RowsGeom, smoothing: number): void {
  const { rows, cols } = g;
  const k = dloss[0] / rows;
  const offTarget = smoothing / cols, onTarget = 1 - smoothing + smoothing / cols;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const label = labelOf(labels, r, cols, 'crossEntropyBackward');
    for (let c = 0; c < cols; c++) {
      dlogits[base + c] = k * (probs[base + c] - (c === label ? onTarget : offTarget));
    }
  }
}

/** Number of rows whose first maximum is at the label's column. */
export function correctCount(logits: Float32Array, labels: Float32Array, g: RowsGeom): number {
  const { rows, cols } = g;
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[base + c] > logits[base + best]) best = c;
    if (best === labels[r]) correct++;
  }
  return correct;
}
