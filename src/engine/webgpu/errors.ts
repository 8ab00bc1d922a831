// Error reporting of the WebGPU runtime. Every batch runs inside validation and out-of-memory error
// scopes; the popped errors (and device loss, and uncaptured errors) are recorded with the labels of
// the batch's dispatches, and the next runtime call — or the pending read/sync — throws a GpuError
// carrying the message. A validation error is reported once; device loss is permanent.
import { GpuError } from './device.js';

export class GpuErrorScopes {
  private pending: GpuError | null = null;
  private fatal: GpuError | null = null;
  private checks: Promise<void>[] = [];
  private disposed = false;

  constructor(private readonly device: GPUDevice) {
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.record(`WebGPU error outside a batch: ${ev.error.message}`);
    };
    void device.lost.then((info) => {
      if (this.disposed) return;
      this.fatal = new GpuError(`WebGPU device lost (${info.reason}): ${info.message || 'no message'}`);
    });
    this.pushScopes();
  }

  private pushScopes(): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  /** Close the current error scopes (they covered everything since the previous check); `labels`:
   *  the dispatches of the batch just submitted, named in the message. */
  check(labels: string[]): void {
    const validation = this.device.popErrorScope();
    const oom = this.device.popErrorScope();
    this.pushScopes();
    const context = labels.length
      ? `in a batch of ${labels.length} dispatches (last dispatch: ${labels[labels.length - 1]}; ` +
        `kernels in the batch: ${[...new Set(labels)].join(', ')})`
      : 'outside any dispatch';
    const check = Promise.all([validation, oom]).then(([v, o]) => {
      if (v) this.record(`WebGPU validation error ${context}: ${v.message}`);
      if (o) this.record(`WebGPU out of memory ${context}: ${o.message}`);
    }, (e: Error) => {
      if (!this.disposed) this.record(`WebGPU error scope failed ${context}: ${e.message}`);
    });
    this.checks.push(check);
  }

  private record(message: string): void {
    if (this.disposed) return;
    if (!this.pending) this.pending = new GpuError(message);
  }

  /** Throw the recorded error, if any (a validation error once; device loss and dispose forever). */
  throwIfFailed(): void {
    if (this.disposed) throw new GpuError('the WebGPU backend was disposed');
    if (this.fatal) throw this.fatal;
    if (this.pending) {
      const e = this.pending;
      this.pending = null;
      throw e;
    }
  }

  /** Wait for every error scope popped so far, then throw what they reported. `batchOpen`: whether
   *  a batch is being encoded (else what was done since the last submit — writes, pipeline
   *  creation — is checked too). */
  async settle(batchOpen: boolean): Promise<void> {
    if (!this.disposed && !batchOpen) this.check([]);
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
    this.throwIfFailed();
  }

  /** From now on nothing is recorded and every check throws 'disposed'. */
  dispose(): void {
    this.disposed = true;
  }
}
