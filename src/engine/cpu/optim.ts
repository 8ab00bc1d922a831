// Optimizer updates in place, with PyTorch's exact formulas (torch.optim.SGD / Adam, L2 weight decay).
import type { AdamParams, SgdParams } from '../backend.js';

/**
 * d = g + wd*p; buf = momentum*buf + (1-dampening)*d; d = nesterov ? d + momentum*buf : buf;
 * p -= lr*d. The caller zero-fills buf, so the first step gives buf = (1-dampening)*d, which is
 * PyTorch's buf = d whenever dampening is 0.
 */
export function sgdStep(param: Float32Array, grad: Float32Array, momBuf: Float32Array | null, n: number,
  p: SgdParams): void {
  const { lr, momentum, dampening, nesterov, weightDecay } = p;
  for (let i = 0; i < n; i++) {
    let d = grad[i] + weightDecay * param[i];
    if (momentum !== 0) {
      const buf = momentum * momBuf![i] + (1 - dampening) * d;
      momBuf![i] = buf;
      d = nesterov ? d + momentum * buf : buf;
    }
    param[i] = param[i] - lr * d;
  }
}

/**
 * g = grad + wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 */
export function adamStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
  p: AdamParams): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = p;
  const stepSize = lr / (1 - Math.pow(beta1, step));
  const bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  for (let i = 0; i < n; i++) {
    const g = grad[i] + weightDecay * param[i];
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i] - stepSize * m[i] / (Math.sqrt(v[i]) / bias2Sqrt + eps);
  }
}
