// Matrix multiply with optional transposed operands, row bias and column sums.
import type { MatmulGeom, RowsGeom } from '../backend.js';

/**
 * out[M, N] = op(a)[M, K] @ op(b)[K, N]. Without transB the loop order is i-k-j (the inner loop
 * streams a row of b and a row of the f64 accumulator); with transB, b's rows are the columns of
 * op(b), so each output is a contiguous dot product (i-j-k).
 */
export function matmul(a: Float32Array, b: Float32Array, out: Float32Array, g: MatmulGeom,
  acc: Float64Array): void {
  const { M, N, K, transA, transB } = g;
  // op(a)[i, k] lives at a[i*aRow + k*aCol]
  const aRow = transA ? 1 : K, aCol = transA ? M : 1;
  if (!transB) {
    for (let i = 0; i < M; i++) {
      acc.fill(0, 0, N);
      for (let k = 0; k < K; k++) {
        const av = a[i * aRow + k * aCol];
        const bBase = k * N;
        for (let j = 0; j < N; j++) acc[j] += av * b[bBase + j];
      }
      const oBase = i * N;
      for (let j = 0; j < N; j++) out[oBase + j] = acc[j];
    }
  } else {
    for (let i = 0; i < M; i++) {
      const aBase = i * aRow;
      for (let j = 0; j < N; j++) {
        const bBase = j * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[aBase + k * aCol] * b[bBase + k];
        out[i * N + j] = s;
      }
    }
  }
}

/** out[r, c] = x[r, c] + b[c] */
export function addRowBias(x: Float32Array, b: Float32Array, out: Float32Array, g: RowsGeom): void {
  const { rows, cols } = g;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[base + c] = x[base + c] + b[c];
  }
}

/** out[c] = sum over rows of x[r, c] */
export function columnSum(x: Float32Array, out: Float32Array, g: RowsGeom, acc: Float64Array): void {
  const { rows, cols } = g;
  acc.fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += x[base + c];
  }
  for (let c = 0; c < cols; c++) out[c] = acc[c];
}
