// Checkpoints of the NB201 networks as safetensors images, with PyTorch's state_dict names and layouts
// (NCHW conv weights [Cout, Cin, kH, kW], Linear [out, in]) and PyTorch's order: per module its
// parameters, then its buffers, then its children. Each tracking BatchNorm2d adds
// `<path>.num_batches_tracked` after `<path>.running_var` as an I64 scalar (shape []), as torch saves
// it — so `model.load_state_dict(safetensors.torch.load_file(path))` works on ADL's TinyNetwork
// (stand-alone network) and on GM's search model (supernet; names in docs/checkpoints.md).
//
// This file is browser-safe (bytes in, bytes out); src/search/checkpoints.ts reads and writes files.
import { Tensor, noGrad } from '../../engine/index.js';
import type { Module, Backend, Rng as EngineRng } from '../../engine/index.js';
import { encodeSafetensors, decodeSafetensors, metadataPositiveInt, type SafetensorsInput, type DecodedTensor } from '../../io/safetensors.js';
import { batchNormsByPath } from './cells.js';
import { Nb201Network, type NetworkConfig } from './network.js';
import { Nb201Supernet, type SupernetConfig } from './supernet.js';
import { parseGenotype, formatGenotype } from './genotype.js';
import { maskToString, parseMask } from './ops.js';

// the generic state-dict helpers live in the engine; re-exported for this space's callers
export { moduleStateTensors, moduleStateKeys, loadModuleState } from '../../engine/index.js';
import { moduleStateTensors, loadModuleState, loadOwnStateKeepExtra } from '../../engine/index.js';

// ---- the stand-alone network ------------------------------------------------------------------

export const NETWORK_FORMAT = 'gmnas.nb201.network/1';

/** Metadata strings of a network checkpoint: enough to rebuild the model. */
export function networkMetadata(net: Nb201Network, extra: Record<string, string> = {}): Record<string, string> {
  const c = net.config;
  return {
    ...extra,
    format: NETWORK_FORMAT,
    genotype: formatGenotype(c.genotype),
    C: String(c.C), N: String(c.N), input_channels: String(c.inputChannels), num_classes: String(c.numClasses),
  };
}

export async function encodeNetworkCheckpoint(net: Nb201Network, extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors(await moduleStateTensors(net), networkMetadata(net, extraMetadata));
}

/** The network config stored in a network checkpoint's metadata. */
export function networkConfigFromMetadata(meta: Record<string, string>, source: string): NetworkConfig {
  if (meta.format !== NETWORK_FORMAT) {
    throw new Error(`${source}: metadata 'format' is ${JSON.stringify(meta.format)}, expected '${NETWORK_FORMAT}' (an NB201 network checkpoint)`);
  }
  let genotype;
  try {
    genotype = parseGenotype(meta.genotype ?? '');
  } catch (e) {
    throw new Error(`${source}: metadata 'genotype': ${(e as Error).message}`);
  }
  return {
    genotype, C: metadataPositiveInt(meta, 'C', source), N: metadataPositiveInt(meta, 'N', source),
    inputChannels: metadataPositiveInt(meta, 'input_channels', source), numClasses: metadataPositiveInt(meta, 'num_classes', source),
  };
}

/** Build the network a checkpoint describes and load its weights. */
export function decodeNetworkCheckpoint(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string): { network: Nb201Network; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const network = new Nb201Network(be, rng, networkConfigFromMetadata(metadata, source));
  try {
    loadModuleState(network, tensors, source);
  } catch (e) {
    network.dispose();
    throw e;
  }
  return { network, metadata };
}

/** Load a network checkpoint into an existing network; its genotype and sizes must match. */
export function loadNetworkInto(net: Nb201Network, bytes: Uint8Array, source: string): Record<string, string> {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format === NETWORK_FORMAT && metadata.genotype !== formatGenotype(net.config.genotype)) {
    throw new Error(`${source}: checkpoint genotype ${metadata.genotype} differs from the model's ${formatGenotype(net.config.genotype)}`);
  }
  loadModuleState(net, tensors, source);
  return metadata;
}

// ---- the supernet -------------------------------------------------------------------------------

export const SUPERNET_FORMAT = 'gmnas.nb201.supernet/1';

export function supernetMetadata(s: Nb201Supernet, extra: Record<string, string> = {}): Record<string, string> {
  const c = s.config;
  return {
    ...extra,
    format: SUPERNET_FORMAT,
    mask: maskToString(s.mask),
    C: String(c.C), N: String(c.N), input_channels: String(c.inputChannels), num_classes: String(c.numClasses),
    track_cell_stats: String(c.trackCellStats),
  };
}

/** The supernet config stored in a supernet checkpoint's metadata. */
export function supernetConfigFromMetadata(meta: Record<string, string>, source: string): SupernetConfig {
  if (meta.format !== SUPERNET_FORMAT) {
    throw new Error(`${source}: metadata 'format' is ${JSON.stringify(meta.format)}, expected '${SUPERNET_FORMAT}' (an NB201 supernet checkpoint)`);
  }
  if (meta.track_cell_stats !== 'true' && meta.track_cell_stats !== 'false') {
    throw new Error(`${source}: metadata 'track_cell_stats' is ${JSON.stringify(meta.track_cell_stats)}, expected 'true' or 'false'`);
  }
  let mask;
  try {
    mask = parseMask(meta.mask ?? '');
  } catch (e) {
    throw new Error(`${source}: metadata 'mask': ${(e as Error).message}`);
  }
  return {
    C: metadataPositiveInt(meta, 'C', source), N: metadataPositiveInt(meta, 'N', source),
    inputChannels: metadataPositiveInt(meta, 'input_channels', source), numClasses: metadataPositiveInt(meta, 'num_classes', source),
    trackCellStats: meta.track_cell_stats === 'true', mask,
  };
}

/** A supernet checkpoint; `extra` tensors (α, optimizer state, …) are appended under their own names. */
export async function encodeSupernetCheckpoint(s: Nb201Supernet, extra: SafetensorsInput[] = [], extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors([...await moduleStateTensors(s), ...extra], supernetMetadata(s, extraMetadata));
}

/** Build the supernet a checkpoint describes and load its weights; other tensors are returned as they are. */
export function decodeSupernetCheckpoint(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string):
  { supernet: Nb201Supernet; metadata: Record<string, string>; extra: Map<string, DecodedTensor> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const supernet = new Nb201Supernet(be, rng, supernetConfigFromMetadata(metadata, source));
  const extra = loadOwnStateKeepExtra(supernet, tensors, source);
  return { supernet, metadata, extra };
}

/** Host copy of a decoded tensor as a device tensor (for extra entries such as α). */
export function decodedToTensor(be: Backend, d: DecodedTensor): Tensor {
  return Tensor.fromArray(be, d.data, d.shape);
}
