// Scratch region of linear memory through which JavaScript passes arrays in and out.
//
// The module allocates nothing at run time (no managed objects, `--runtime stub`): every entry point
// works on raw pointers into one region that starts at the first 16-byte boundary above the static
// data. The JavaScript side lays out its f64/i32 arrays there, asks for the region to be large enough,
// calls an entry point with the pointers, and reads the outputs back. Growing memory detaches the JS
// views, so callers create their views after `reserveScratch` returns.

/** First byte of the scratch region. */
export function scratchBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/** Grows linear memory until `bytes` bytes fit from `scratchBase()`; returns that base, or 0 when memory cannot grow. */
export function reserveScratch(bytes: usize): usize {
  const base = scratchBase();
  const end = base + bytes;
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >>> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  return base;
}
