// Space-independent helpers over a module tree: BN lookup by path, parameter counting, copying one
// module's state into another of the same shape, and PyTorch-style state-dict export/import (names,
// shapes, num_batches_tracked as an I64 scalar after each tracking BN's running_var).
// The tensor records are structural (name, shape, data) so that io/safetensors can take them without
// this layer importing it.
import { noGrad } from '../tensor.js';
import { Module } from './module.js';
import { BatchNorm2d } from './layers.js';

const NBT = 'num_batches_tracked';

/** A state tensor as written to a checkpoint (io/safetensors' SafetensorsInput has this shape). */
export interface StateTensorOut {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | BigInt64Array;
}

/** A state tensor read from a checkpoint (io/safetensors' DecodedTensor has this shape). */
export interface StateTensorIn {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** torch.nn.ModuleList / ModuleDict: children registered under the names given, in order. */
export class ModuleContainer<M extends Module = Module> extends Module {
  readonly items: M[] = [];
  add<T extends M>(name: string, m: T): T {
    this.items.push(m);
    return this.child(name, m);
  }
}

/** Every BatchNorm2d in a module tree, by module path (for num_batches_tracked and BN resets). */
export function batchNormsByPath(m: Module): Map<string, BatchNorm2d> {
  const out = new Map<string, BatchNorm2d>();
  for (const [path, mod] of m.namedModules()) if (mod instanceof BatchNorm2d) out.set(path, mod);
  return out;
}

/** Trainable values of a module (BN buffers excluded, as PyTorch's `p.numel() for p in parameters()`). */
export function countParameters(m: Module): number {
  return m.parameters().reduce((s, p) => s + p.size, 0);
}

/** Copy all state_dict tensors (same names and shapes) and BN batch counts from `src` to `dst`. */
export function copyModuleState(dst: Module, src: Module): void {
  const from = new Map(src.stateDict());
  const to = dst.stateDict();
  if (from.size !== to.length) throw new Error(`copyModuleState: source has ${from.size} tensors, destination ${to.length}`);
  noGrad(() => {
    for (const [name, t] of to) {
      const s = from.get(name);
      if (!s) throw new Error(`copyModuleState: source has no tensor '${name}'`);
      if (s.size !== t.size) throw new Error(`copyModuleState: '${name}' has ${s.size} values in the source, ${t.size} here`);
      t.backend.copy(s.storage, t.storage, t.size);
    }
  });
  const srcBns = batchNormsByPath(src);
  for (const [path, bn] of batchNormsByPath(dst)) {
    const s = srcBns.get(path);
    if (s) bn.numBatchesTracked = s.numBatchesTracked;
  }
}

/** A module's state as checkpoint tensors, names prefixed with `prefix` (one device read per tensor). */
export async function moduleStateTensors(m: Module, prefix = ''): Promise<StateTensorOut[]> {
  const bns = batchNormsByPath(m);
  const out: StateTensorOut[] = [];
  for (const [name, t] of m.stateDict()) {
    out.push({ name: prefix + name, shape: [...t.shape], data: await t.data() });
    if (name.endsWith('.running_var')) {
      const bn = bns.get(name.slice(0, -'.running_var'.length));
      if (bn) out.push({ name: `${prefix}${name.slice(0, -'running_var'.length)}${NBT}`, shape: [], data: BigInt64Array.of(BigInt(bn.numBatchesTracked)) });
    }
  }
  return out;
}

/** The names and shapes `moduleStateTensors` would write, without reading the device. */
export function moduleStateKeys(m: Module, prefix = ''): { name: string; shape: number[] }[] {
  const bns = batchNormsByPath(m);
  const out: { name: string; shape: number[] }[] = [];
  for (const [name, t] of m.stateDict()) {
    out.push({ name: prefix + name, shape: [...t.shape] });
    if (name.endsWith('.running_var') && bns.has(name.slice(0, -'.running_var'.length))) {
      out.push({ name: `${prefix}${name.slice(0, -'running_var'.length)}${NBT}`, shape: [] });
    }
  }
  return out;
}

/**
 * Load `m`'s own state tensors (strictly, as `loadModuleState`) from a file that may hold more — a
 * supernet checkpoint also carries α and optimizer state — and return the other entries untouched.
 * On a mismatch `m` is disposed before the error is rethrown, so a failed decode leaks nothing.
 */
export function loadOwnStateKeepExtra<T extends StateTensorIn>(m: Module, tensors: ReadonlyMap<string, T>, source: string): Map<string, T> {
  const own = new Set(moduleStateKeys(m).map((k) => k.name));
  const mine = new Map<string, T>(), extra = new Map<string, T>();
  for (const [name, t] of tensors) (own.has(name) ? mine : extra).set(name, t);
  try {
    loadModuleState(m, mine, source);
  } catch (e) {
    m.dispose();
    throw e;
  }
  return extra;
}

/**
 * Write `tensors[prefix + name]` into every state tensor of `m` (and BN batch counts). Strict: every
 * name must be present with the same shape, and no other name may start with `prefix` — the error
 * lists what is missing, unexpected or mis-shaped. `source` names the file in messages.
 */
export function loadModuleState(m: Module, tensors: ReadonlyMap<string, StateTensorIn>, source: string, prefix = ''): void {
  const expected = moduleStateKeys(m, prefix);
  const expectedNames = new Set(expected.map((k) => k.name));
  const missing = expected.filter((k) => !tensors.has(k.name)).map((k) => k.name);
  const unexpected = [...tensors.keys()].filter((n) => n.startsWith(prefix) && !expectedNames.has(n));
  const misshaped = expected.filter((k) => {
    const t = tensors.get(k.name);
    return t && (t.shape.length !== k.shape.length || t.shape.some((d, i) => d !== k.shape[i]));
  }).map((k) => `${k.name} (file [${tensors.get(k.name)!.shape.join(', ')}], model [${k.shape.join(', ')}])`);
  if (missing.length || unexpected.length || misshaped.length) {
    const parts: string[] = [];
    const list = (xs: string[]): string => xs.slice(0, 8).join(', ') + (xs.length > 8 ? `, … (${xs.length} in all)` : '');
    if (missing.length) parts.push(`missing ${list(missing)}`);
    if (unexpected.length) parts.push(`unexpected ${list(unexpected)}`);
    if (misshaped.length) parts.push(`shape mismatch ${list(misshaped)}`);
    throw new Error(`${source}: checkpoint does not match the model: ${parts.join('; ')}`);
  }
  noGrad(() => {
    for (const [name, t] of m.stateDict()) {
      const d = tensors.get(prefix + name)!;
      if (d.dtype !== 'F32') throw new Error(`${source}: tensor '${prefix + name}' is ${d.dtype}; model tensors are stored as F32`);
      t.backend.write(t.storage, d.data);
    }
  });
  for (const [path, bn] of batchNormsByPath(m)) {
    if (!bn.runningVar) continue;
    const d = tensors.get(`${prefix}${path}.${NBT}`)!;
    const v = d.data[0];
    if (!Number.isInteger(v) || v < 0) throw new Error(`${source}: '${prefix}${path}.${NBT}' is ${v}, expected a non-negative integer`);
    bn.numBatchesTracked = v;
  }
}
