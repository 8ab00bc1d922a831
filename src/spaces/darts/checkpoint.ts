// DARTS checkpoints as safetensors with the reference's state-dict names (see network.ts and
// supernet.ts): the evaluation network loads in PyTorch's NetworkCIFAR with
// `model.load_state_dict(safetensors.torch.load_file(path))` (strict), built from the genotype text in
// the metadata. Metadata: format, genotype (DARTS text), C, N (layers), input_channels, num_classes,
// auxiliary; supernets: format, ops, mask, C, N, input_channels, num_classes, track_cell_stats.
// Browser-safe (bytes in, bytes out).
import { moduleStateTensors, loadModuleState, loadOwnStateKeepExtra } from '../../engine/index.js';
import type { Backend, Rng as EngineRng } from '../../engine/index.js';
import { encodeSafetensors, decodeSafetensors, metadataPositiveInt, type SafetensorsInput, type DecodedTensor } from '../../io/safetensors.js';
import { DartsNetwork } from './network.js';
import { DartsSupernet } from './supernet.js';
import { encodeGenotype, parseGenotypeText } from './genotype.js';

export const DARTS_NETWORK_FORMAT = 'gmnas.darts.network/1';
export const DARTS_SUPERNET_FORMAT = 'gmnas.darts.supernet/1';

export async function encodeDartsNetwork(net: DartsNetwork, extra: Record<string, string> = {}): Promise<Uint8Array> {
  const c = net.config;
  return encodeSafetensors(await moduleStateTensors(net), {
    ...extra, format: DARTS_NETWORK_FORMAT, genotype: net.genotypeString,
    C: String(c.C), N: String(c.N), input_channels: String(c.inputChannels), num_classes: String(c.numClasses),
    auxiliary: String(net.auxiliaryHead !== null),
  });
}

export function decodeDartsNetwork(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string, ops: readonly string[]): { network: DartsNetwork; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== DARTS_NETWORK_FORMAT) throw new Error(`${source}: metadata 'format' is ${JSON.stringify(metadata.format)}, expected '${DARTS_NETWORK_FORMAT}' (a DARTS network checkpoint)`);
  let genotype: number[];
  try { genotype = encodeGenotype(parseGenotypeText(metadata.genotype ?? ''), ops); } catch (e) { throw new Error(`${source}: metadata 'genotype': ${(e as Error).message}`); }
  const network = new DartsNetwork(be, rng, {
    genotype, ops, C: metadataPositiveInt(metadata, 'C', source), N: metadataPositiveInt(metadata, 'N', source),
    inputChannels: metadataPositiveInt(metadata, 'input_channels', source), numClasses: metadataPositiveInt(metadata, 'num_classes', source),
    auxiliary: metadata.auxiliary === 'true',
  });
  try { loadModuleState(network, tensors, source); } catch (e) { network.dispose(); throw e; }
  return { network, metadata };
}

export function loadDartsNetworkInto(net: DartsNetwork, bytes: Uint8Array, source: string): Record<string, string> {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.genotype !== undefined && metadata.genotype !== net.genotypeString) {
    throw new Error(`${source}: checkpoint genotype ${metadata.genotype} differs from the network's ${net.genotypeString}`);
  }
  loadModuleState(net, tensors, source);
  return metadata;
}

export function dartsSupernetMetadata(s: DartsSupernet, maskText: string, extra: Record<string, string> = {}): Record<string, string> {
  const c = s.config;
  return {
    ...extra, format: DARTS_SUPERNET_FORMAT, ops: s.ops.join(','), mask: maskText,
    C: String(c.C), N: String(c.N), input_channels: String(c.inputChannels), num_classes: String(c.numClasses), track_cell_stats: String(c.trackCellStats),
  };
}

export async function encodeDartsSupernet(s: DartsSupernet, maskText: string, extra: SafetensorsInput[] = [], meta: Record<string, string> = {}): Promise<Uint8Array> {
  return encodeSafetensors([...await moduleStateTensors(s), ...extra], dartsSupernetMetadata(s, maskText, meta));
}

export function decodeDartsSupernet(be: Backend, rng: EngineRng, bytes: Uint8Array, source: string, build: (o: {
  C: number; N: number; inputChannels: number; numClasses: number; trackCellStats: boolean; mask: Uint8Array;
}) => DartsSupernet, parseMask: (text: string) => Uint8Array, ops: readonly string[]): { supernet: DartsSupernet; metadata: Record<string, string>; extra: Map<string, DecodedTensor> } {
  void be; void rng;
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== DARTS_SUPERNET_FORMAT) throw new Error(`${source}: metadata 'format' is ${JSON.stringify(metadata.format)}, expected '${DARTS_SUPERNET_FORMAT}'`);
  if (metadata.ops !== ops.join(',')) throw new Error(`${source}: supernet ops ${metadata.ops}, this space's ${ops.join(',')}`);
  if (metadata.track_cell_stats !== 'true' && metadata.track_cell_stats !== 'false') throw new Error(`${source}: metadata 'track_cell_stats' must be 'true' or 'false'`);
  let mask: Uint8Array;
  try { mask = parseMask(metadata.mask ?? ''); } catch (e) { throw new Error(`${source}: metadata 'mask': ${(e as Error).message}`); }
  const supernet = build({
    C: metadataPositiveInt(metadata, 'C', source), N: metadataPositiveInt(metadata, 'N', source), inputChannels: metadataPositiveInt(metadata, 'input_channels', source),
    numClasses: metadataPositiveInt(metadata, 'num_classes', source), trackCellStats: metadata.track_cell_stats === 'true', mask,
  });
  const extra = loadOwnStateKeepExtra(supernet, tensors, source);
  return { supernet, metadata, extra };
}
