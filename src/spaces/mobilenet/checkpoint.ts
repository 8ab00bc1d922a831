// Checkpoints of the stand-alone MobileNet as safetensors images with ProxylessNASNets' state_dict names
// (see network.ts) and PyTorch's order; every BN adds `<path>.num_batches_tracked` (I64, shape []) as
// torch saves it, so `ProxylessNASNets(...).load_state_dict(safetensors.torch.load_file(path))` works
// with strict key matching. The metadata holds what rebuilds the model (format, genotype, width_mult,
// input_channels, num_classes) and, when given, the resolution it was trained at.
// Browser-safe (bytes in, bytes out); the writer of files does the atomic write.
import type { Backend, Rng } from '../../engine/index.js';
import { encodeSafetensors, decodeSafetensors, metadataPositiveInt } from '../../io/safetensors.js';
import { moduleStateTensors, loadModuleState } from '../../engine/index.js';
import { MobileNetNetwork, type MobileNetConfig } from './network.js';
import { parseGenotype, formatGenotype } from './genotype.js';

export const MOBILENET_FORMAT = 'gmnas.mobilenet.network/1';

export function mobileNetMetadata(net: MobileNetNetwork, extra: Record<string, string> = {}): Record<string, string> {
  const c = net.config;
  return {
    ...extra,
    format: MOBILENET_FORMAT,
    genotype: formatGenotype(c.genotype),
    width_mult: String(c.widthMult),
    input_channels: String(c.inputChannels),
    num_classes: String(c.numClasses),
  };
}

export async function encodeMobileNetCheckpoint(net: MobileNetNetwork, extraMetadata: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors(await moduleStateTensors(net), mobileNetMetadata(net, extraMetadata));
}

export function mobileNetConfigFromMetadata(meta: Record<string, string>, source: string): MobileNetConfig {
  if (meta.format !== MOBILENET_FORMAT) {
    throw new Error(`${source}: metadata 'format' is ${JSON.stringify(meta.format)}, expected '${MOBILENET_FORMAT}' (a MobileNet network checkpoint)`);
  }
  let genotype;
  try {
    genotype = parseGenotype(meta.genotype ?? '');
  } catch (e) {
    throw new Error(`${source}: metadata 'genotype': ${(e as Error).message}`);
  }
  const widthMult = Number(meta.width_mult);
  if (meta.width_mult === undefined || !(widthMult > 0)) {
    throw new Error(`${source}: metadata 'width_mult' is ${JSON.stringify(meta.width_mult)}, expected a positive number`);
  }
  return {
    genotype, widthMult,
    inputChannels: metadataPositiveInt(meta, 'input_channels', source), numClasses: metadataPositiveInt(meta, 'num_classes', source),
  };
}

/** Build the network a checkpoint describes and load its weights (strict: every name, every shape). */
export function decodeMobileNetCheckpoint(be: Backend, rng: Rng, bytes: Uint8Array, source: string):
  { network: MobileNetNetwork; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const network = new MobileNetNetwork(be, rng, mobileNetConfigFromMetadata(metadata, source));
  try {
    loadModuleState(network, tensors, source);
  } catch (e) {
    network.dispose();
    throw e;
  }
  return { network, metadata };
}
