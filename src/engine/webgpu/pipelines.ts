// Shader modules and compute pipelines of the WebGPU runtime, cached by (shader, entry point,
// override constants). Shaders are the build's shaders/*.wgsl (SHADERS) or WGSL generated at run
// time from a template (defineShader).
import { GpuError } from './device.js';
import { SHADERS } from './shaders.generated.js';

/** `layout`: the pipeline's bind group layout, asked for on the first bind group and kept (each
 *  getBindGroupLayout call is a native call that makes a new wrapper; a bind group is made per cache
 *  miss) — read it through layoutOf */
export interface PipelineEntry { pipeline: GPUComputePipeline; id: number; label: string; layout: GPUBindGroupLayout | null }

/** The pipeline's bind group layout (group 0), fetched once. */
export function layoutOf(pipe: PipelineEntry): GPUBindGroupLayout {
  return (pipe.layout ??= pipe.pipeline.getBindGroupLayout(0));
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly generated = new Map<string, string>();
  private readonly pipelines = new Map<string, PipelineEntry>();

  constructor(private readonly device: GPUDevice) {}

  /** WGSL generated at run time (from a template in shaders/), usable as a `shader` key. */
  defineShader(key: string, code: string): void {
    if (SHADERS[key] !== undefined) throw new GpuError(`defineShader: '${key}' is a shaders/*.wgsl file`);
    const have = this.generated.get(key);
    if (have !== undefined && have !== code) throw new GpuError(`defineShader: '${key}' defined twice with different code`);
    this.generated.set(key, code);
  }

  hasShader(key: string): boolean {
    return SHADERS[key] !== undefined || this.generated.has(key);
  }

  /** The pipeline of `shader`'s `entry` with these override constants; `wg` > 0 adds the override
   *  constant WG (it wins over a WG in `constants`). The key is built without sorting in the common
   *  case of at most one constant (this runs per dispatch). */
  get(shader: string, entry: string, constants: Record<string, number> | undefined, wg: number): PipelineEntry {
    let key = shader + '|' + entry;
    if (wg > 0) key += '|WG=' + wg;
    if (constants) {
      const names = Object.keys(constants);
      if (names.length > 1) names.sort();
      for (const n of names) if (n !== 'WG' || wg === 0) key += '|' + n + '=' + constants[n];
    }
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    let module = this.modules.get(shader);
    if (!module) {
      const code = SHADERS[shader] ?? this.generated.get(shader);
      if (code === undefined) {
        throw new GpuError(`unknown shader "${shader}" (known: ${Object.keys(SHADERS).sort().join(', ') || 'none'}; ` +
          'run node scripts/build.mjs after adding shaders/*.wgsl)');
      }
      module = this.device.createShaderModule({ code, label: shader });
      this.modules.set(shader, module);
    }
    const all: Record<string, number> = { ...constants };
    if (wg > 0) all.WG = wg;
    const names = Object.keys(all);
    const label = names.length ? `${shader}:${entry}{${names.map((k) => `${k}=${all[k]}`).join(',')}}` : `${shader}:${entry}`;
    const pipeline = this.device.createComputePipeline({
      label, layout: 'auto', compute: { module, entryPoint: entry, constants: all },
    });
    const e: PipelineEntry = { pipeline, id: this.pipelines.size + 1, label, layout: null };
    this.pipelines.set(key, e);
    return e;
  }

  clear(): void {
    this.pipelines.clear();
    this.modules.clear();
  }
}
