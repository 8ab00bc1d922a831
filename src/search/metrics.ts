// Loss and accuracy summed on the device: adding a step's numbers launches two tiny kernels and reads
// nothing back, so a training loop runs without host round trips; `read()` fetches the totals once
// (per epoch, or every k steps for a progress bar).
import { Tensor, keep, correctCount } from '../engine/index.js';
import type { Backend } from '../engine/index.js';

export interface MetricTotals {
  /** mean loss per image */
  loss: number;
  /** top-1 accuracy in percent (0–100) */
  accuracy: number;
  /** images counted */
  count: number;
}

export class MetricAccumulator {
  private readonly lossSum: Tensor;
  private readonly correct: Tensor;
  private images = 0;

  constructor(readonly backend: Backend) {
    this.lossSum = keep(Tensor.zeros(backend, [1]));
    this.correct = keep(Tensor.zeros(backend, [1]));
  }

  /** Add one batch: `loss` is its mean loss (shape []), logits [n, K], labels [n]. */
  add(loss: Tensor, logits: Tensor, labels: Tensor): void {
    const n = logits.shape[0];
    this.backend.addInPlace(this.lossSum.storage, loss.storage, 1, n);
    const c = correctCount(logits, labels);
    this.backend.addInPlace(this.correct.storage, c.storage, 1, 1);
    c.dispose();
    this.images += n;
  }

  /** Count the images of a batch whose add() ran as part of a replayed step (its device half was
   *  replayed; only the host-side count is left to do). */
  countReplayed(n: number): void { this.images += n; }

  get count(): number { return this.images; }

  /** The totals so far (one device read per accumulator). */
  async read(): Promise<MetricTotals> {
    if (this.images === 0) return { loss: NaN, accuracy: NaN, count: 0 };
    const [l, c] = await Promise.all([this.lossSum.data(), this.correct.data()]);
    return { loss: l[0] / this.images, accuracy: (100 * c[0]) / this.images, count: this.images };
  }

  reset(): void {
    this.backend.fill(this.lossSum.storage, 0, 1);
    this.backend.fill(this.correct.storage, 0, 1);
    this.images = 0;
  }

  dispose(): void {
    this.lossSum.dispose();
    this.correct.dispose();
  }
}
