// Shader variants made at run time from the files in shaders/: a template expanded per term count
// (`//#each-term` blocks) and/or a vector width (a prelude that defines the element type V).
//
// Why vector widths: on CPU rasterisers (lavapipe) every storage-buffer load is a per-lane gather,
// so a streaming kernel's speed follows the number of load instructions, not bytes. Reading vec4s
// where the layout allows it measured ~1.5x faster for the mixed sum (N64 C16 32x32, 3 terms:
// 3.0 vs 4.6 ms). A shader written in V units compiles both ways:
//   alias V = vec4<f32> | f32,   const VW = 4u | 1u,
//   fn hsum(v: V) -> f32 (the sum of the lanes),   fn lane0(v: V) -> f32 (the first lane)
// WGSL mixes vectors and scalars in + - * /, so `x * scale + shift` reads the same for both widths.
import { GpuError } from '../device.js';
import type { GpuRuntime } from '../runtime.js';
import { SHADERS } from '../shaders.generated.js';

/**
 * Expand a shaders/*.wgsl template for K terms: lines between `//#each-term` and `//#end` repeat
 * for k = 0..K-1, and `{expr}` (an integer expression of k and K: digits, + - * / %, / rounding
 * down) is replaced by its value.
 */
export function expandTemplate(src: string, K: number): string {
  const subst = (line: string, k: number): string => line.replace(/\{([0-9kK+\-*/% ]*[kK][0-9kK+\-*/% ]*)\}/g, (_, expr: string) => {
    const v = Function('k', 'K', `"use strict"; return (${expr});`)(k, K) as number;
    return String(Math.floor(v));
  });
  const out: string[] = [];
  const lines = src.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '//#each-term') { out.push(subst(lines[i], 0)); continue; }
    const block: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== '//#end'; i++) block.push(lines[i]);
    if (i >= lines.length) throw new GpuError('expandTemplate: //#each-term without //#end');
    for (let k = 0; k < K; k++) for (const l of block) out.push(subst(l, k));
  }
  return out.join('\n');
}

export type VectorWidth = 1 | 4;

/** The WGSL prelude of a shader written in V units (see the file comment). */
export function vectorPrelude(width: VectorWidth): string {
  return width === 4
    ? 'alias V = vec4<f32>;\nconst VW: u32 = 4u;\nfn hsum(v: V) -> f32 { return (v.x + v.y) + (v.z + v.w); }\n' +
      'fn lane0(v: V) -> f32 { return v.x; }\n'
    : 'alias V = f32;\nconst VW: u32 = 1u;\nfn hsum(v: V) -> f32 { return v; }\nfn lane0(v: V) -> f32 { return v; }\n';
}

/** The widest vector width dividing `n` (values per plane, chunk or tensor). */
export function vectorWidthFor(n: number): VectorWidth {
  return n % 4 === 0 ? 4 : 1;
}

/** The shader key of a variant of shaders/<name>.wgsl (defined on first use): expanded for K terms
 *  when `K` is given, with the prelude of `width` when given. */
export function shaderVariant(rt: GpuRuntime, name: string, v: { K?: number; width?: VectorWidth }): string {
  const key = `${name}${v.K !== undefined ? `~k${v.K}` : ''}${v.width !== undefined ? `~v${v.width}` : ''}`;
  if (!rt.hasShader(key)) {
    const src = SHADERS[name];
    if (src === undefined) throw new GpuError(`missing shader shaders/${name}.wgsl`);
    const body = v.K !== undefined ? expandTemplate(src, v.K) : src;
    rt.defineShader(key, (v.width !== undefined ? vectorPrelude(v.width) : '') + body);
  }
  return key;
}
