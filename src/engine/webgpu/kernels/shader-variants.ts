// Shader variants made at run time from the files in shaders/: a template expanded per term count
// (`//#each-term` blocks), a vector width (a prelude that defines the element type V), and/or a
// subgroup flavour (`//#if SUBGROUPS` / `//#else` / `//#endif` blocks: one source for the kernels
// that fetch shared values with subgroupBroadcast where the device has subgroups, and with plain
// loads where it has not).
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

/** Keep the lines of `//#if NAME` blocks whose flag is set and of their `//#else` blocks otherwise
 *  (blocks may nest); the directive lines themselves are dropped. */
export function applyFlags(src: string, flags: Record<string, boolean>): string {
  const out: string[] = [];
  const stack: { keep: boolean }[] = [];
  const keeping = (): boolean => stack.every((b) => b.keep);
  for (const line of src.split('\n')) {
    const t = line.trim();
    const m = /^\/\/#if (\w+)$/.exec(t);
    if (m) {
      if (!(m[1] in flags)) throw new GpuError(`applyFlags: //#if ${m[1]}: no such flag`);
      stack.push({ keep: flags[m[1]] });
    } else if (t === '//#else') {
      const top = stack[stack.length - 1];
      if (!top) throw new GpuError('applyFlags: //#else without //#if');
      top.keep = !top.keep;
    } else if (t === '//#endif') {
      if (!stack.pop()) throw new GpuError('applyFlags: //#endif without //#if');
    } else if (keeping()) {
      out.push(line);
    }
  }
  if (stack.length) throw new GpuError('applyFlags: //#if without //#endif');
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
 *  when `K` is given, with the prelude of `width` when given, the SUBGROUPS blocks kept or replaced
 *  by their `//#else` when `subgroups` is given, and likewise the blocks of each of `flags`. */
export function shaderVariant(rt: GpuRuntime, name: string,
  v: { K?: number; width?: VectorWidth; subgroups?: boolean; flags?: Record<string, boolean> }): string {
  const flags: Record<string, boolean> = { ...v.flags };
  if (v.subgroups !== undefined) flags.SUBGROUPS = v.subgroups;
  const named = Object.keys(v.flags ?? {}).sort().map((f) => `~${v.flags![f] ? '' : 'no'}${f}`).join('');
  const key = `${name}${v.K !== undefined ? `~k${v.K}` : ''}${v.width !== undefined ? `~v${v.width}` : ''}` +
    `${v.subgroups !== undefined ? (v.subgroups ? '~sg' : '~nosg') : ''}${named}`;
  if (!rt.hasShader(key)) {
    const src = SHADERS[name];
    if (src === undefined) throw new GpuError(`missing shader shaders/${name}.wgsl`);
    let body = Object.keys(flags).length ? applyFlags(src, flags) : src;
    if (v.K !== undefined) body = expandTemplate(body, v.K);
    // WGSL wants `enable` directives before any declaration: the prelude goes after a leading one
    const head = /^enable [^;]+;\n/.exec(body)?.[0] ?? '';
    const prelude = v.width !== undefined ? vectorPrelude(v.width) : '';
    rt.defineShader(key, head + prelude + body.slice(head.length));
  }
  return key;
}
