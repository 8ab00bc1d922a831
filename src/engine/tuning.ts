// The training loops' hook into kernel autotuning (webgpu/autotune.ts). A backend that can tune its
// kernels has `tune()`; the Backend contract does not declare it, so the CPU backend (nothing to tune)
// and test doubles need nothing.
import type { Backend } from './backend.js';

/** A backend whose kernels have tunable variants (the WebGPU backend). */
export interface TunableBackend {
  /** Time the kernel shapes dispatched so far that are not tuned yet and use the fastest variants
   *  from now on; resolves at once when there is nothing new or tuning is off. */
  tune(): Promise<void>;
}

export function isTunable(be: Backend): be is Backend & TunableBackend {
  return typeof (be as Partial<TunableBackend>).tune === 'function';
}

/** Tune `be`'s kernels when it can. Training loops call it after a step: by then every kernel shape
 *  of the step has been dispatched (and so recorded); later calls cost nothing unless new shapes
 *  appeared (an α step, an evaluation batch). */
export async function tuneKernels(be: Backend): Promise<void> {
  if (isTunable(be)) await be.tune();
}
