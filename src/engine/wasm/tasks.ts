// The work a kernel call splits between threads, as numbered tasks with numeric arguments, so the
// main thread can hand a worker its share through shared memory (threads.ts) without messages. The
// same table runs on the main thread and in every worker (worker.ts), over the same Wasm memory.
import type { ConvGeom } from '../backend.js';
import { convForward, convInputGrad, convWeightGrad } from './conv.js';
import type { KernelExports } from './module.js';

/** Doubles per task argument block. */
export const TASK_ARGS = 40;

export const enum Task {
  ConvForward = 0,
  ConvInputGrad = 1,
  ConvWeightGrad = 2,
  /** a raw kernel export by index in KERNEL_NAMES; args[1..] are its arguments */
  Kernel = 3,
}

/** Kernels a Task.Kernel may name (the order is the wire format). */
export const KERNEL_NAMES = ['chanSum', 'chanSqDev', 'chanDot', 'chanAffine', 'chanBackward', 'axpy', 'avgPool',
  'avgPoolBackward', 'reluCopy', 'gemmNN', 'gemmNT', 'avgPoolS1', 'avgPoolBackwardS1', 'maxPool', 'maxPoolBackward', 'chanMeanSqDev', 'mixedSumTerms', 'chanDotTerms', 'chanBackwardTerms'] as const;
export type KernelName = typeof KERNEL_NAMES[number];

const GEOM_KEYS = ['N', 'Cin', 'H', 'W', 'Cout', 'KH', 'KW', 'OH', 'OW', 'strideH', 'strideW', 'padH', 'padW',
  'dilH', 'dilW', 'groups'] as const;
/** args[1..17] hold a ConvGeom; the task's own arguments start here. */
const CONV_ARGS = 1 + GEOM_KEYS.length + 1;

export function writeGeom(a: Float64Array, g: ConvGeom): void {
  GEOM_KEYS.forEach((k, i) => { a[1 + i] = g[k]; });
  a[1 + GEOM_KEYS.length] = g.reluInput ? 1 : 0;
}

function readGeom(a: Float64Array): ConvGeom {
  const g = { reluInput: a[1 + GEOM_KEYS.length] === 1 } as ConvGeom;
  GEOM_KEYS.forEach((k, i) => { (g as unknown as Record<string, number>)[k] = a[1 + i]; });
  return g;
}

/** Argument block of a convolution task: args[0] = task, geometry, then `rest`. */
export function convTask(a: Float64Array, task: Task, g: ConvGeom, rest: number[]): Float64Array {
  a[0] = task;
  writeGeom(a, g);
  a.set(rest, CONV_ARGS);
  return a;
}

/** Arguments runTask passes to a Task.Kernel export. */
const KERNEL_MAX_ARGS = 20;

export function kernelTask(a: Float64Array, name: KernelName, args: number[]): Float64Array {
  if (args.length > KERNEL_MAX_ARGS) throw new Error(`wasm backend: kernel ${name} takes ${args.length} arguments (runTask passes ${KERNEL_MAX_ARGS})`);
  a[0] = Task.Kernel;
  a[1] = KERNEL_NAMES.indexOf(name);
  a.set(args, 2);
  return a;
}

/** Run one task block. */
export function runTask(k: KernelExports, a: Float64Array): void {
  const task = a[0] as Task;
  if (task === Task.Kernel) {
    const f = (k as unknown as Record<string, (...v: number[]) => void>)[KERNEL_NAMES[a[1]]];
    // a Wasm export ignores arguments beyond its parameters: no array copy per call
    f(a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21]);
    return;
  }
  const g = readGeom(a), r = a.subarray(CONV_ARGS);
  if (task === Task.ConvForward) convForward(k, g, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
  else if (task === Task.ConvInputGrad) convInputGrad(k, g, r[0], r[1], r[2], r[3], r[4], r[5] === 1, r[6], r[7], r[8], r[9]);
  else if (task === Task.ConvWeightGrad) convWeightGrad(k, g, r[0], r[1], r[2], r[3], r[4], r[5] === 1, r[6], r[7]);
  else throw new Error(`wasm backend: unknown task ${task}`);
}
