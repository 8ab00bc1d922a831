// Batch normalisation per channel over N*HW values (PyTorch semantics): the biased batch variance
// normalises, the unbiased one (times M/(M-1)) feeds the running variance.
import type { BatchNormGeom } from '../backend.js';

export function batchNormTrain(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null,
  y: Float32Array, saveMean: Float32Array, saveInvStd: Float32Array, runMean: Float32Array | null,
  runVar: Float32Array | null, g: BatchNormGeom): void {
  const { N, C, HW, eps, momentum } = g;
  const count = N * HW;
  for (let c = 0; c < C; c++) {
    // two passes (mean, then squared deviations) in f64: no cancellation for large means
    let s = 0;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) s += x[base + i];
    }
    const mean = s / count;
    let ss = 0;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) { const d = x[base + i] - mean; ss += d * d; }
    }
    const variance = ss / count;
    const invStd = 1 / Math.sqrt(variance + eps);
    saveMean[c] = mean;
    saveInvStd[c] = invStd;
    const scale = gamma ? gamma[c] * invStd : invStd;
    const shift = (beta ? beta[c] : 0) - mean * scale;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) y[base + i] = x[base + i] * scale + shift;
    }
    if (runMean) runMean[c] = (1 - momentum) * runMean[c] + momentum * mean;
    if (runVar) {
      const unbiased = count > 1 ? ss / (count - 1) : variance;
      runVar[c] = (1 - momentum) * runVar[c] + momentum * unbiased;
    }
  }
}

export function batchNormEval(x: Float32Array, gamma: Float32Array | null, beta: Float32Array | null,
  runMean: Float32Array, runVar: Float32Array, y: Float32Array, g: BatchNormGeom): void {
  const { N, C, HW, eps } = g;
  for (let c = 0; c < C; c++) {
    const invStd = 1 / Math.sqrt(runVar[c] + eps);
    const scale = gamma ? gamma[c] * invStd : invStd;
    const shift = (beta ? beta[c] : 0) - runMean[c] * scale;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) y[base + i] = x[base + i] * scale + shift;
    }
  }
}

/**
 * Backward of batchNormTrain with xhat = (x - mean) * invStd:
 *   dbeta = sum dy, dgamma = sum dy*xhat,
 *   dx = gamma*invStd/M * (M*dy - sum dy - xhat * sum dy*xhat).
 */
export function batchNormBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array | null,
  saveMean: Float32Array, saveInvStd: Float32Array, dx: Float32Array, dgamma: Float32Array | null,
  dbeta: Float32Array | null, g: BatchNormGeom): void {
  const { N, C, HW } = g;
  const count = N * HW;
  for (let c = 0; c < C; c++) {
    const mean = saveMean[c], invStd = saveInvStd[c];
    let sumDy = 0, sumDyXhat = 0;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        const d = dy[base + i];
        sumDy += d;
        sumDyXhat += d * (x[base + i] - mean) * invStd;
      }
    }
    if (dgamma) dgamma[c] = sumDyXhat;
    if (dbeta) dbeta[c] = sumDy;
    const k = (gamma ? gamma[c] : 1) * invStd;
    const meanDy = sumDy / count, meanDyXhat = sumDyXhat / count;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        const xhat = (x[base + i] - mean) * invStd;
        dx[base + i] = k * (dy[base + i] - meanDy - xhat * meanDyXhat);
      }
    }
  }
}

/** Backward of batchNormEval: the running statistics are constants, so dx = dy * gamma * invStd. */
export function batchNormEvalBackward(dy: Float32Array, x: Float32Array, gamma: Float32Array | null,
  runMean: Float32Array, runVar: Float32Array, dx: Float32Array, dgamma: Float32Array | null,
  dbeta: Float32Array | null, g: BatchNormGeom): void {
  const { N, C, HW, eps } = g;
  for (let c = 0; c < C; c++) {
    const mean = runMean[c];
    const invStd = 1 / Math.sqrt(runVar[c] + eps);
    const k = (gamma ? gamma[c] : 1) * invStd;
    let sumDy = 0, sumDyXhat = 0;
    for (let n = 0; n < N; n++) {
      const base = (n * C + c) * HW;
      for (let i = 0; i < HW; i++) {
        const d = dy[base + i];
        sumDy += d;
        sumDyXhat += d * (x[base + i] - mean) * invStd;
        dx[base + i] = d * k;
      }
    }
    if (dgamma) dgamma[c] = sumDyXhat;
    if (dbeta) dbeta[c] = sumDy;
  }
}
