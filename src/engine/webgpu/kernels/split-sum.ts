// The second pass of a split-K weight gradient — dw[i] = sum over s of part[s * size + i], in split
// order, deterministic, no atomics — for the implicit-GEMM (conv.ts) and depthwise (depthwise.ts)
// weight gradients. A backward pass makes one per convolution, each a tiny launch; here they are
// held back (GpuRuntime.defer) until something needs a gradient — usually the optimizer or gradient
// clipping after the whole backward — and then run K at a time (shaders/multi_split_sum.wgsl, K up to
// 8 with lavapipe's 16 storage bindings, 4 with WebGPU's default 8): two launches per NB201 cell
// instead of twelve.
import { GpuError } from '../device.js';
import type { DeferredFamily, GpuRuntime, GpuStorage } from '../runtime.js';
import { chunks, groupsFor, sizesWords } from './multi.js';
import { shaderVariant } from './shader-variants.js';
import { switches } from '../../switches.js';

interface SplitSumItem { part: GpuStorage; dw: GpuStorage; size: number; splits: number }

/** pairs per launch at most (the template's uniform slots) */
const MAX_PAIRS = 8;
const WG = 64;

const splitSums: DeferredFamily<SplitSumItem> = { name: 'split-K sums', run: runSplitSums };

/** dw = the sum of the `splits` partial results in `part` (size values each); takes ownership of
 *  `part` (released once summed). */
export function splitSum(rt: GpuRuntime, part: GpuStorage, dw: GpuStorage, size: number, splits: number): void {
  const op = 'splitSum';
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(splits) || splits < 1) {
    throw new GpuError(`${op}: size ${size} and splits ${splits} must be positive integers`);
  }
  if (part.length < size * splits) throw new GpuError(`${op}: part holds ${part.length} values, needs ${size * splits}`);
  if (dw.length < size) throw new GpuError(`${op}: dw holds ${dw.length} values, needs ${size}`);
  if (part === dw) throw new GpuError(`${op}: part and dw are the same storage`);
  const item = { part, dw, size, splits };
  if (switches.mergeSplitSums) rt.defer(splitSums, item, [part, dw], [part]);
  else {
    runSplitSums(rt, [item]);
    rt.release(part);
  }
}

function runSplitSums(rt: GpuRuntime, items: SplitSumItem[]): void {
  const per = Math.max(1, Math.min(MAX_PAIRS, Math.floor(rt.limits.maxStorageBuffersPerShaderStage / 2)));
  for (const chunk of chunks(items, per, (it) => [it.part, it.dw])) {
    rt.dispatch({
      shader: shaderVariant(rt, 'multi_split_sum', { K: chunk.length }),
      bindings: chunk.flatMap((it) => [it.part, it.dw]),
      params: {
        u: [...sizesWords(chunk.map((it) => it.size), MAX_PAIRS), ...sizesWords(chunk.map((it) => it.splits), MAX_PAIRS)],
      },
      constants: { WG }, workgroups: [groupsFor(rt, chunk.map((it) => it.size)), 1, 1],
    });
  }
}
