// Checkpoint files (Node only): the stand-alone network, the supernet, and a base method's full
// search state, as safetensors written atomically (temp file + fsync + rename, src/io/fs.ts). The
// tensor names and formats are the space's (src/spaces/<name>/checkpoint.ts, docs/checkpoints.md).
import type { Backend, Rng as EngineRng } from '../engine/index.js';
import { saveSafetensors, loadSafetensors, writeFileAtomic, readFileBytes } from '../io/fs.js';
import { sealSafetensors, assertFiniteTensors, type SafetensorsInput } from '../io/safetensors.js';
import { getSpace } from '../spaces/registry.js';
import type { SearchSpace, SpaceNetwork, SpaceSupernet } from '../spaces/space.js';
import type { BaseMethod, MethodStateMeta } from './method.js';

/** Write a stand-alone network (PyTorch TinyNetwork names; loadable with load_state_dict). */
export async function saveNetworkCheckpoint(path: string, net: SpaceNetwork, metadata: Record<string, string> = {}, space: SearchSpace = getSpace()): Promise<void> {
  writeFileAtomic(path, sealSafetensors(await space.encodeNetwork(net, metadata), path));
}

/** Build the network a checkpoint file describes, with its weights. */
export function loadNetworkCheckpoint(path: string, be: Backend, rng: EngineRng, space: SearchSpace = getSpace()): { network: SpaceNetwork; metadata: Record<string, string> } {
  return space.decodeNetwork(be, rng, readFileBytes(path, 'network checkpoint'), path);
}

/** Load a network checkpoint file into an existing network (same genotype and sizes). */
export function loadNetworkCheckpointInto(path: string, net: SpaceNetwork, space: SearchSpace = getSpace()): Record<string, string> {
  return space.loadNetworkInto(net, readFileBytes(path, 'network checkpoint'), path);
}

export async function saveSupernetCheckpoint(path: string, supernet: SpaceSupernet, extra: SafetensorsInput[] = [], metadata: Record<string, string> = {}, space: SearchSpace = getSpace()): Promise<void> {
  writeFileAtomic(path, sealSafetensors(await space.encodeSupernet(supernet, extra, metadata), path));
}

export function loadSupernetCheckpoint(path: string, be: Backend, rng: EngineRng, space: SearchSpace = getSpace()): ReturnType<SearchSpace['decodeSupernet']> {
  return space.decodeSupernet(be, rng, readFileBytes(path, 'supernet checkpoint'), path);
}

/** A method's whole search state: supernet (its own names), α, optimizer state, and the host state as
 *  JSON in the metadata entry `method_state`. */
export async function saveMethodCheckpoint(path: string, method: BaseMethod, metadata: Record<string, string> = {}): Promise<void> {
  const { tensors, meta } = await method.exportState();
  saveSafetensors(path, tensors, method.space.supernetMetadata(method.supernet, { ...metadata, method_state: JSON.stringify(meta) }));
}

/** Restore `method` (built with the same kind, sizes and mask) from a file of `saveMethodCheckpoint`. */
export function loadMethodCheckpoint(path: string, method: BaseMethod, o: { allowOptimizerReset?: boolean; requireChecksum?: boolean } = {}): Record<string, string> {
  const { tensors, metadata } = loadSafetensors(path, { requireChecksum: o.requireChecksum });
  assertFiniteTensors(tensors, path);
  if (metadata.format !== method.space.checkpointFormats.supernet || metadata.method_state === undefined) {
    throw new Error(`${path}: not a method checkpoint (metadata 'format' ${JSON.stringify(metadata.format)}, no 'method_state')`);
  }
  if (metadata.mask !== method.space.maskToString(method.mask)) {
    throw new Error(`${path}: checkpoint mask ${metadata.mask} differs from the method's ${method.space.maskToString(method.mask)}`);
  }
  let meta: MethodStateMeta;
  try {
    meta = JSON.parse(metadata.method_state) as MethodStateMeta;
  } catch (e) {
    throw new Error(`${path}: metadata 'method_state' is not valid JSON (${(e as Error).message})`);
  }
  method.importState(tensors, meta, path, o);
  return metadata;
}
