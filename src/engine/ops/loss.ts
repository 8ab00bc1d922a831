// Softmax family and the classification loss.
import { Tensor, needsGrad, record, assertSameBackend, shapeStr } from '../tensor.js';

function rowsOf(op: string, x: Tensor): { rows: number; cols: number } {
  if (x.rank < 1 || x.size === 0) throw new Error(`${op}: empty input ${shapeStr(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  return { rows: x.size / cols, cols };
}

function softmaxImpl(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const g = rowsOf(op, x);
  const be = x.backend;
  const y = Tensor.empty(be, x.shape);
  be.softmax(x.storage, y.storage, g, log);
  if (needsGrad(x)) {
    const ys = y.storage;
    record(y, op, [x], [y], (dy) => {
      const dx = Tensor.empty(be, x.shape);
      be.softmaxBackward(dy.storage, ys, dx.storage, g, log);
      return [dx];
    });
  }
  return y;
}

/** Softmax over the last axis. */
export const softmax = (x: Tensor): Tensor => softmaxImpl(x, false);
/** Log-softmax over the last axis. */
export const logSoftmax = (x: Tensor): Tensor => softmaxImpl(x, true);

/**
 * Mean cross-entropy of logits [N, K] against integer labels (a tensor of N f32 class indices),
 * with optional label smoothing s (target = (1-s)·onehot + s/K), as torch.nn.CrossEntropyLoss.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, smoothing = 0): Tensor {
  const be = assertSameBackend('crossEntropy', logits, labels);
  if (logits.rank !== 2) throw new Error(`crossEntropy: logits ${shapeStr(logits.shape)} must be [N, classes]`);
  const [N, K] = logits.shape;
  if (labels.size !== N) throw new Error(`crossEntropy: ${labels.size} labels for ${N} rows of logits ${shapeStr(logits.shape)}`);
  if (!(smoothing >= 0 && smoothing < 1)) throw new Error(`crossEntropy: label smoothing ${smoothing} must be in [0, 1)`);
  const g = { rows: N, cols: K };
  const loss = Tensor.empty(be, []);
  const probs = Tensor.empty(be, [N, K]);
  be.crossEntropy(logits.storage, labels.storage, loss.storage, probs.storage, g, smoothing);
  if (needsGrad(logits)) {
    const ps = probs.storage, ls = labels.storage;
    record(loss, 'crossEntropy', [logits], [probs, labels], (dy) => {
      const dx = Tensor.empty(be, logits.shape);
      be.crossEntropyBackward(ps, ls, dy.storage, dx.storage, g, smoothing);
      return [dx];
    });
  }
  probs.dispose();
  return loss;
}

/** Number of rows whose argmax equals the label, as a tensor of shape [] (read it when needed). */
export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  const be = assertSameBackend('correctCount', logits, labels);
  if (logits.rank !== 2 || labels.size !== logits.shape[0]) {
    throw new Error(`correctCount: logits ${shapeStr(logits.shape)} and ${labels.size} labels do not match`);
  }
  const out = Tensor.empty(be, []);
  be.correctCount(logits.storage, labels.storage, out.storage, 0, { rows: logits.shape[0], cols: logits.shape[1] });
  return out;
}
