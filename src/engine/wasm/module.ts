// Loading the kernel module: one WebAssembly.Memory (shared when the platform allows, so worker
// threads can run kernels over the same tensors) and the SIMD build the engine can run — relaxed SIMD
// (fused multiply-add) when WebAssembly.validate accepts it, else plain 128-bit SIMD.
import { KERNELS_RELAXED_SHARED, KERNELS_RELAXED_UNSHARED, KERNELS_SIMD_SHARED, KERNELS_SIMD_UNSHARED } from './kernels.generated.js';

/** The kernel module's exports (assembly/kernels/index.ts). Pointers are byte offsets. */
export interface KernelExports {
  gemmNN(A: number, asm: number, ask: number, B: number, ldb: number, C: number, ldc: number,
    m0: number, m1: number, N: number, K: number, acc: number): void;
  packA4(A: number, asm: number, ask: number, M: number, K: number, P: number): void;
  gemmPacked(Ap: number, B: number, ldb: number, C: number, ldc: number, X: number,
    mb0: number, mb1: number, N: number, K: number, acc: number, mask: number): void;
  padPlanes(x: number, C: number, H: number, W: number, pH: number, pW: number, relu: number, out: number): void;
  convImplicit(Ap: number, xp: number, CI: number, HP: number, WP: number, KH: number, KW: number, dH: number, dW: number,
    koff: number, C: number, X: number, OH: number, OW: number, mb0: number, mb1: number, acc: number, mask: number): void;
  padRows(x: number, R: number, H: number, W: number, WP: number, L: number, out: number): void;
  wgradImplicit(D: number, L: number, xp: number, CI: number, HP: number, WP: number, KH: number, KW: number, dH: number, dW: number,
    koff: number, out: number, mb0: number, mb1: number, acc: number, S: number, dStride: number, xStride: number): void;
  gemmNT(A: number, lda: number, B: number, ldb: number, C: number, ldc: number,
    m0: number, m1: number, N: number, K: number, acc: number): void;
  im2col(x: number, C: number, H: number, W: number, KH: number, KW: number, OH: number, OW: number,
    sH: number, sW: number, pH: number, pW: number, dH: number, dW: number, relu: number, cols: number): void;
  col2im(cols: number, C: number, H: number, W: number, KH: number, KW: number, OH: number, OW: number,
    sH: number, sW: number, pH: number, pW: number, dH: number, dW: number, dx: number): void;
  dwForward(x: number, H: number, W: number, w: number, KH: number, KW: number, OH: number, OW: number,
    sH: number, sW: number, pH: number, pW: number, dH: number, dW: number, relu: number, y: number): void;
  dwInputGrad(dy: number, H: number, W: number, w: number, KH: number, KW: number, OH: number, OW: number,
    sH: number, sW: number, pH: number, pW: number, dH: number, dW: number, dx: number): void;
  dwWeightGrad(dy: number, x: number, H: number, W: number, KH: number, KW: number, OH: number, OW: number,
    sH: number, sW: number, pH: number, pW: number, dH: number, dW: number, relu: number, dw: number, acc: number): void;
  reluCopy(x: number, out: number, n: number): void;
  maskedStore(g: number, x: number, dx: number, n: number, mask: number, acc: number): void;
  addChannelBias(out: number, bias: number, C: number, P: number): void;
  chanSum(x: number, N: number, C: number, HW: number, out: number, c0: number, c1: number): void;
  chanSqDev(x: number, mean: number, N: number, C: number, HW: number, out: number, c0: number, c1: number): void;
  mixedSumTerms(terms: number, T: number, out: number, N: number, C: number, HW: number, n0: number, n1: number): void;
  chanDotTerms(a: number, terms: number, T: number, N: number, C: number, HW: number, withSum: number, out: number, c0: number, c1: number): void;
  chanBackwardTerms(dy: number, terms: number, T: number, N: number, C: number, HW: number, n0: number, n1: number): void;
  chanMeanSqDev(x: number, N: number, C: number, HW: number, count: number, sum: number, sqDev: number, c0: number, c1: number): void;
  chanDot(a: number, b: number, mean: number, N: number, C: number, HW: number, out: number, c0: number, c1: number): void;
  chanAffine(x: number, scale: number, shift: number, k: number, out: number, N: number, C: number, HW: number,
    acc: number, n0: number, n1: number): void;
  chanBackward(dy: number, x: number, p: number, q: number, m: number, r: number, s: number, dx: number, N: number, C: number, HW: number,
    acc: number, n0: number, n1: number): void;
  axpy(x: number, k: number, out: number, n: number, acc: number): void;
  avgPool(x: number, y: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    sH: number, sW: number, pH: number, pW: number, includePad: number, p0: number, p1: number): void;
  avgPoolS1(x: number, y: number, tmp: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    pH: number, pW: number, includePad: number, p0: number, p1: number): void;
  avgPoolBackwardS1(dy: number, dx: number, tmp: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    pH: number, pW: number, includePad: number, scale: number, acc: number, p0: number, p1: number): void;
  maxPool(x: number, y: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    sH: number, sW: number, pH: number, pW: number, p0: number, p1: number): void;
  maxPoolBackward(dy: number, x: number, dx: number, tmp: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    sH: number, sW: number, pH: number, pW: number, scale: number, acc: number, p0: number, p1: number): void;
  avgPoolBackward(dy: number, dx: number, tmp: number, H: number, W: number, OH: number, OW: number, KH: number, KW: number,
    sH: number, sW: number, pH: number, pW: number, includePad: number, scale: number, acc: number, p0: number, p1: number): void;
}

function decode(b64: string): Uint8Array {
  if (typeof atob === 'function') {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  throw new Error('wasm backend: no base64 decoder (atob) in this runtime');
}

/** Bytes per Wasm page. */
export const PAGE_BYTES = 65536;
/** 4 GiB: the most a 32-bit Wasm memory can address. */
export const MAX_PAGES = 65536;

const cachedModules = new Map<boolean, { module: WebAssembly.Module; relaxed: boolean }>();

/** The compiled kernel module for shared or unshared memory (compiled once per thread), and whether
 *  it is the relaxed-SIMD build. */
export function kernelModule(shared: boolean): { module: WebAssembly.Module; relaxed: boolean } {
  const hit = cachedModules.get(shared);
  if (hit) return hit;
  if (typeof WebAssembly !== 'object') throw new Error('wasm backend: this runtime has no WebAssembly');
  const relaxedBytes = decode(shared ? KERNELS_RELAXED_SHARED : KERNELS_RELAXED_UNSHARED);
  const relaxed = WebAssembly.validate(relaxedBytes as BufferSource);
  const bytes = relaxed ? relaxedBytes : decode(shared ? KERNELS_SIMD_SHARED : KERNELS_SIMD_UNSHARED);
  if (!relaxed && !WebAssembly.validate(bytes as BufferSource)) {
    throw new Error(`wasm backend: this WebAssembly engine lacks 128-bit SIMD${shared ? ' or shared memory (threads)' : ''} support`);
  }
  const out = { module: new WebAssembly.Module(bytes as BufferSource), relaxed };
  cachedModules.set(shared, out);
  return out;
}

/** Whether SharedArrayBuffer-backed Wasm memory can be made here (browsers: cross-origin isolation). */
export function sharedMemorySupported(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/** Instantiate the kernels over `memory` (also what each worker thread does with the same memory). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  return inst.exports as unknown as KernelExports;
}
