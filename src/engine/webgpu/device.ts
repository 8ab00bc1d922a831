// Acquiring a WebGPU adapter and device, in Node (Dawn through the npm `webgpu` package) or in a
// browser (`navigator.gpu`).
//
// Node specifics:
//   - `create([])` returns the GPU object that owns Dawn's instance. It must stay referenced for as
//     long as any device made from it lives, otherwise the process hangs or aborts on a pthread mutex
//     assertion; it is kept in a module-level variable for the life of the process and shared by
//     every device this module creates.
//   - the `webgpu` package is imported dynamically, and only when `navigator.gpu` is absent, with a
//     specifier the bundler cannot see, so browser bundles never contain the Node addon.
//   - Mesa (lavapipe) warns when XDG_RUNTIME_DIR is unset; it is set to /tmp in that case.
//   - lavapipe (Mesa's CPU Vulkan driver) runs a dispatch's workgroups on LP_NUM_THREADS threads,
//     by default one per core. More threads than cores is faster for large dispatches: the work is
//     split into finer tasks and a core never idles while the other finishes a straggler; but every
//     thread adds to each dispatch's fixed cost, which small shapes feel. Measured on 2 cores (NB201
//     DARTS step C16 N5 B64, idle machine): 17.0 s with the default, 15.7 s with 4 threads, 12.3 s
//     with 8, 11.4 s with 16, 13.0 s with 32; later, under load, alternating 4 / 8 / 16: 13.1-15.8 /
//     11.5-11.8 / 12.6-12.9 s, and the quick preset's step (C8 N1 B32 16x16) 327-369 / 345-387 /
//     336-403 ms. So unless the user set it, LP_NUM_THREADS = 4 per core, at most 16.
//     Mesa reads it when the driver starts, so it has to be in the process environment before the
//     first device: Node's main thread writes process.env through to the C environment, a worker
//     thread does not, hence leaf-pool.ts calls prepareNodeGpuEnv before it starts its workers.
//
// The device is created with the adapter's limits (the WebGPU defaults are lower: 8 storage buffers
// per stage, 16 KiB workgroup storage, 256 invocations) and the `subgroups` and `timestamp-query`
// features when offered (timestamps are written only in the runtime's profiling mode).

/** An error from the GPU: validation, out-of-memory, device loss, or use after dispose. */
export class GpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuError';
  }
}

/** What we learned about the adapter, for descriptions and logs. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Subgroup (SIMD) width range reported by the adapter; 0 when unknown. */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface GpuDeviceHandle {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
  hasSubgroups: boolean;
  /** the device has `timestamp-query` (used only by the runtime's profiling mode) */
  hasTimestamps: boolean;
}

export interface RequestDeviceOptions {
  /** Power preference passed to requestAdapter. */
  powerPreference?: GPUPowerPreference;
  /** Do not request the subgroups feature even when offered (for testing the fallback paths). */
  disableSubgroups?: boolean;
}

/** Limits copied from the adapter into the device request (the ones our kernels care about; the
 *  self-test reports the device's values of exactly these). */
export const LIMITS_TO_RAISE = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
  'maxBindingsPerBindGroup',
] as const;

// Kept for the life of the process: see the header comment.
let nodeGpu: GPU | null = null;
let nodeGpuPromise: Promise<GPU | null> | null = null;

/** The GPU entry point: navigator.gpu in browsers, Dawn's in Node; null when neither exists. */
export async function getGpu(): Promise<GPU | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  if (nodeGpu) return nodeGpu;
  if (!nodeGpuPromise) nodeGpuPromise = loadNodeGpu();
  return nodeGpuPromise;
}

/** lavapipe threads per core and the most we ask for (see the header comment). */
const LAVAPIPE_THREADS_PER_CORE = 4;
const LAVAPIPE_MAX_THREADS = 16;

/** The environment Dawn and Mesa read when they start (Node only; a no-op elsewhere): XDG_RUNTIME_DIR
 *  and LP_NUM_THREADS, each only when the user has not set it. `cores` is the machine's parallelism. */
export function prepareNodeGpuEnv(env: Record<string, string | undefined>, cores: number): void {
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = '/tmp';
  if (!env.LP_NUM_THREADS) {
    env.LP_NUM_THREADS = String(Math.min(LAVAPIPE_MAX_THREADS, Math.max(1, cores) * LAVAPIPE_THREADS_PER_CORE));
  }
}

async function loadNodeGpu(): Promise<GPU | null> {
  const proc = (globalThis as { process?: { env: Record<string, string | undefined>; versions?: { node?: string } } }).process;
  if (!proc?.versions?.node) return null; // a browser without WebGPU
  // NODE ONLY, as below: non-literal specifiers keep bundlers out.
  const osName = 'node:os';
  const os = await import(/* @vite-ignore */ osName) as { availableParallelism: () => number };
  prepareNodeGpuEnv(proc.env, os.availableParallelism());
  // NODE ONLY: a non-literal specifier keeps bundlers from pulling the native addon into browser builds.
  const specifier = 'webgpu';
  let mod: { create: (flags: string[]) => GPU; globals: object };
  try {
    mod = await import(/* @vite-ignore */ specifier);
  } catch {
    return null; // the optional native package is not installed
  }
  // GPUBufferUsage, GPUMapMode, GPUShaderStage ... are globals in browsers; Dawn hands them to us.
  Object.assign(globalThis, mod.globals);
  nodeGpu = mod.create([]);
  return nodeGpu;
}

/** The adapter (or null when there is none), without creating a device. */
export async function requestAdapter(opts: RequestDeviceOptions = {}): Promise<GPUAdapter | null> {
  const gpu = await getGpu();
  if (!gpu) return null;
  try {
    return await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch {
    return null;
  }
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const info = adapter.info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const device = info?.device ?? '';
  const desc = info?.description ?? '';
  const isFallbackAdapter = Boolean((info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter);
  const parts = [vendor, architecture, device, desc].filter((s, i, all) => s && all.indexOf(s) === i);
  let description = parts.length ? parts.join(' / ') : 'unknown adapter';
  if (isFallbackAdapter) description += ' (fallback adapter)';
  const sg = info as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
  return {
    vendor, architecture, device, description, isFallbackAdapter,
    subgroupMinSize: sg?.subgroupMinSize ?? 0, subgroupMaxSize: sg?.subgroupMaxSize ?? 0,
  };
}

/** Adapter + device with raised limits. Throws GpuError when no adapter is available. */
export async function requestGpuDevice(opts: RequestDeviceOptions = {}): Promise<GpuDeviceHandle> {
  const adapter = await requestAdapter(opts);
  if (!adapter) {
    throw new GpuError('no WebGPU adapter found. In a browser, use one with WebGPU enabled; in Node, ' +
      'the `webgpu` package needs a Vulkan/Metal/D3D12 driver — on Linux without a GPU install Mesa >= 23 ' +
      "lavapipe (see README 'WebGPU without a GPU')");
  }
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS_TO_RAISE) {
    const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  const hasSubgroups = !opts.disableSubgroups && adapter.features.has('subgroups');
  if (hasSubgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  const hasTimestamps = adapter.features.has('timestamp-query');
  if (hasTimestamps) requiredFeatures.push('timestamp-query' as GPUFeatureName);
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'gmnas' });
  } catch (e) {
    throw new GpuError(`requestDevice failed on ${describeAdapter(adapter).description}: ${(e as Error).message}`);
  }
  return { adapter, device, info: describeAdapter(adapter), hasSubgroups, hasTimestamps };
}
