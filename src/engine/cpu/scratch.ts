// Reusable f64 work buffers for the CPU kernels, so hot loops never allocate.

export class Scratch {
  private buf = new Float64Array(1024);

  /** A buffer of at least n doubles; contents unspecified. Valid until the next call. */
  f64(n: number): Float64Array {
    if (this.buf.length < n) this.buf = new Float64Array(Math.max(n, 2 * this.buf.length));
    return this.buf;
  }
}
