// The wasm backend: the Backend contract on CPUs with Wasm SIMD kernels (assembly/kernels/) where the
// time goes — the convolutions (forward, input gradient, weight gradient; any stride, padding,
// dilation and groups; the fused ReLU on the input) — and the CPU reference backend's TypeScript
// kernels, inherited, for everything else (elementwise, batch norm, pooling, softmax, optimizers:
// memory-bound and a small share of an NB201 step). All storages live in one WebAssembly.Memory
// (memory.ts), so both kinds of kernel work on the same arrays without copies.
import type { Backend, ConvGeom, Storage } from '../backend.js';
import { CpuBackend, checkConvGeom } from '../cpu/cpu-backend.js';
import type { CpuStorage } from '../cpu/storage.js';
import { convForward, convInputGrad, convScratchFloats, convWeightGrad } from './conv.js';
import { WasmMemoryPool, WasmStorage } from './memory.js';
import { instantiateKernels, kernelModule, PAGE_BYTES, sharedMemorySupported, type KernelExports } from './module.js';

export interface WasmBackendOptions {
  /** Size of the memory when it cannot be shared (and so cannot grow), in MiB; default 1024. */
  memoryMiB?: number;
}

export class WasmBackend extends CpuBackend {
  override readonly kind: Backend['kind'] = 'wasm';
  override readonly description: string;
  /** Whether the kernels are the relaxed-SIMD (fused multiply-add) build. */
  readonly relaxedSimd: boolean;
  readonly sharedMemory: boolean;
  private readonly k: KernelExports;
  private readonly wasmPool: WasmMemoryPool;

  private constructor(pool: WasmMemoryPool, k: KernelExports, relaxed: boolean) {
    super(pool);
    this.wasmPool = pool;
    this.k = k;
    this.relaxedSimd = relaxed;
    this.sharedMemory = pool.shared;
    this.description = `Wasm ${relaxed ? 'relaxed ' : ''}SIMD128, 1 thread, ${pool.shared ? 'shared' : 'unshared'} memory`;
  }

  static create(opts: WasmBackendOptions = {}): WasmBackend {
    const shared = sharedMemorySupported();
    const { module, relaxed } = kernelModule(shared);
    let memory: WebAssembly.Memory;
    if (shared) {
      memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
    } else {
      const mib = opts.memoryMiB ?? 1024;
      if (!(Number.isInteger(mib) && mib >= 16 && mib <= 4095)) throw new Error(`wasm backend: memoryMiB ${mib} must be an integer in [16, 4095]`);
      const pages = (mib * 2 ** 20) / PAGE_BYTES;
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    }
    const pool = new WasmMemoryPool(memory, shared);
    return new WasmBackend(pool, instantiateKernels(module, memory), relaxed);
  }

  /** Storages must be this backend's (their byte offsets are pointers into its memory). */
  protected override arr(op: string, name: string, s: Storage, need: number): Float32Array {
    if (!(s instanceof WasmStorage)) throw new Error(`${op}: ${name} is not a storage of the wasm backend`);
    return super.arr(op, name, s, need);
  }

  private ptr(op: string, name: string, s: Storage, need: number): number {
    return this.arr(op, name, s, need).byteOffset;
  }

  private temp(n: number): CpuStorage {
    return this.wasmPool.alloc(n);
  }

  override conv2d(x: Storage, w: Storage, bias: Storage | null, y: Storage, g: ConvGeom): void {
    const op = 'conv2d';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const s = this.temp(convScratchFloats(g));
    try {
      convForward(this.k, g, this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W),
        this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW),
        bias ? this.ptr(op, 'bias', bias, g.Cout) : 0,
        this.ptr(op, 'y', y, g.N * g.Cout * g.OH * g.OW), 0, g.N, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
  }

  override conv2dInputGrad(dy: Storage, w: Storage, dx: Storage, g: ConvGeom, x: Storage | null = null, accumulate = false): void {
    const op = 'conv2dInputGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    if (g.reluInput && !x) throw new Error(`${op}: a fused-ReLU conv (reluInput) needs the pre-ReLU input x to mask dx`);
    const n = g.N * g.Cin * g.H * g.W;
    const s = this.temp(convScratchFloats(g));
    try {
      convInputGrad(this.k, g, this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW),
        this.ptr(op, 'w', w, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), this.ptr(op, 'dx', dx, n),
        g.reluInput ? this.ptr(op, 'x', x!, n) : 0, accumulate, 0, g.N, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
  }

  override conv2dWeightGrad(dy: Storage, x: Storage, dw: Storage, g: ConvGeom): void {
    const op = 'conv2dWeightGrad';
    checkConvGeom(op, g);
    this.launch(op, 0);
    const s = this.temp(convScratchFloats(g));
    try {
      convWeightGrad(this.k, g, this.ptr(op, 'dy', dy, g.N * g.Cout * g.OH * g.OW),
        this.ptr(op, 'x', x, g.N * g.Cin * g.H * g.W),
        this.ptr(op, 'dw', dw, g.Cout * (g.Cin / g.groups) * g.KH * g.KW), 0, g.N, false, s.data.byteOffset);
    } finally {
      this.wasmPool.release(s);
    }
  }
}
