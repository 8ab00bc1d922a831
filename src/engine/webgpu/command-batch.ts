// The open command batch of the WebGPU runtime: one command encoder, one open compute pass, the
// submit epoch, and the counts.
//
// Dispatches are encoded into ONE open command encoder, inside one open compute pass (measured on
// lavapipe: one pass ~18 µs per tiny dispatch vs ~22 µs with a pass per dispatch), and submitted
// every `batchSize` dispatches or on read/flush/sync. WebGPU keeps dispatch order within and across
// command buffers, so a storage released right after encoding a dispatch that reads it can be
// handed to a later dispatch that writes it. The epoch increments on every submit: a buffer whose
// lastUseEpoch equals it is used by unsubmitted work.
import type { PipelineEntry } from './pipelines.js';

export class CommandBatch {
  encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** the pipeline last set on the open pass (setPipeline is skipped when it repeats) */
  private passPipeline: PipelineEntry | null = null;
  /** increments on every submit; a buffer with lastUseEpoch === epoch is used by unsubmitted work */
  epoch = 1;
  private batchDispatches = 0;
  /** label of each command of the open batch (error messages name them) */
  private labels: string[] = [];
  /** commands encoded since start */
  dispatches = 0;
  /** command buffers submitted since start */
  submits = 0;

  constructor(private readonly device: GPUDevice, readonly batchSize: number) {}

  openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  /** The open encoder with no compute pass open (for copies and query resolves). */
  encoderOutsidePass(): GPUCommandEncoder {
    const enc = this.openEncoder();
    this.endPass();
    return enc;
  }

  endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** The open compute pass with `pipe` set, for the next dispatch; with `timestamps` (profiling) a
   *  pass of its own whose start and end timestamps bracket that dispatch. */
  passFor(pipe: PipelineEntry, timestamps?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    if (timestamps) {
      this.endPass();
      this.pass = this.openEncoder().beginComputePass({ timestampWrites: timestamps });
      this.passPipeline = null;
    } else if (!this.pass) {
      this.pass = this.openEncoder().beginComputePass();
      this.passPipeline = null;
    }
    if (this.passPipeline !== pipe) {
      this.pass.setPipeline(pipe.pipeline);
      this.passPipeline = pipe;
    }
    return this.pass;
  }

  /** Count one encoded command, named `label` in error messages if given (in-stream copies are not);
   *  true when the batch is full (the caller submits). */
  counted(label?: string): boolean {
    if (label !== undefined) this.labels.push(label);
    this.dispatches++;
    return ++this.batchDispatches >= this.batchSize;
  }

  /** Finish and submit the open encoder (the pass already ended); returns the batch's labels. */
  submit(): string[] {
    const labels = this.labels;
    this.device.queue.submit([this.encoder!.finish()]);
    this.submits++;
    this.encoder = null;
    this.epoch++;
    this.batchDispatches = 0;
    this.labels = [];
    return labels;
  }

  /** Forget the open encoder and pass without submitting (dispose). */
  drop(): void {
    this.encoder = null;
    this.pass = null;
  }
}
