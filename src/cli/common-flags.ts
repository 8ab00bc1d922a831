// The flags every command that builds a network shares (issue [nb201] item 8): size, data, device,
// seed. One definition so `search`, `train`, `rank` spell and check them the same way.
import { type FlagSpec, UsageError, intFlag } from './args.js';
import { DATASET_NAMES, type DatasetName } from '../data/dataset.js';
import { switches } from '../engine/switches.js';

export const DEVICE_CHOICES = ['auto', 'webgpu', 'wasm', 'cpu'] as const;
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

/** The autotuning switch, shared with commands that take only the device flags (rank). */
export const AUTOTUNE_FLAG: FlagSpec = { 'no-autotune': { type: 'boolean' } };
export const AUTOTUNE_FLAG_HELP = `  --no-autotune              WebGPU: keep the conv kernels' fixed tilings (default: time a few per layer
                             shape once, cached in $XDG_CACHE_HOME/gmnas/autotune.json; also GMNAS_AUTOTUNE=0)`;

/** Whether the command autotunes: on unless --no-autotune or GMNAS_AUTOTUNE=0. */
export function readAutotuneFlag(values: Record<string, unknown>): boolean {
  return switches.autotune && !values['no-autotune'];
}

/** The wasm backend's thread count, shared with commands that take only the device flags (rank). */
export const THREADS_FLAG: FlagSpec = { threads: { type: 'string' } };
export const THREADS_FLAG_HELP = `  --threads N                wasm backend: threads, this one included (default: the cores)`;

/** --threads, checked, or undefined when not given. */
export function readThreadsFlag(values: Record<string, unknown>): number | undefined {
  if (values.threads === undefined) return undefined;
  const t = Number(values.threads);
  if (!(Number.isInteger(t) && t >= 1 && t <= 256)) throw new UsageError(`--threads ${String(values.threads)}: expected an integer in [1, 256]`);
  return t;
}

export const COMMON_FLAGS: FlagSpec = {
  device: { type: 'string' },
  ...THREADS_FLAG,
  ...AUTOTUNE_FLAG,
  seed: { type: 'string' },
  out: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  channels: { type: 'string' },
  cells: { type: 'string' },
  'batch-size': { type: 'string' },
  epochs: { type: 'string' },
  'train-limit': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const COMMON_FLAGS_HELP = `  --device auto|webgpu|wasm|cpu
                             backend (auto: WebGPU on a GPU, else wasm SIMD; README "Choosing a device")
${THREADS_FLAG_HELP}
${AUTOTUNE_FLAG_HELP}
  --seed S                   seed of everything random (default 0)
  --out DIR                  output folder
  --dataset NAME             ${DATASET_NAMES.join(' | ')}
                             (default fashion-mnist-embedded: the repository's data/fashion-mnist/, 12 000
                             training + 10 000 test images; fashion-mnist: the full Debian copy when
                             installed, else the embedded subset; synthetic: generated, for tests)
  --data-dir DIR             folder with the dataset's files as distributed
  --channels C               channels of the first stage (NB201: 16)
  --cells N                  search cells per stage (NB201: 5)
  --batch-size B             images per step
  --epochs E                 training epochs
  --train-limit K            use only the first K training images`;

export interface CommonConfig {
  device: DeviceChoice;
  /** wasm backend threads (--threads; undefined: the cores) */
  threads: number | undefined;
  /** autotune the WebGPU kernels (--no-autotune, GMNAS_AUTOTUNE=0: false) */
  autotune: boolean;
  seed: number;
  dataset: DatasetName;
  dataDir: string | undefined;
  channels: number;
  cells: number;
  batchSize: number;
  epochs: number;
  trainLimit: number | undefined;
}

/** Read the common flags with the command's defaults; every bad value names its flag. */
export function readCommonFlags(values: Record<string, unknown>, defaults: Omit<CommonConfig, 'device' | 'threads' | 'autotune' | 'dataDir' | 'trainLimit' | 'seed'> & { seed?: number }): CommonConfig {
  const device = values.device ?? 'auto';
  if (!(DEVICE_CHOICES as readonly string[]).includes(String(device))) {
    throw new UsageError(`--device ${String(device)}: expected one of ${DEVICE_CHOICES.join(', ')}`);
  }
  const dataset = values.dataset ?? defaults.dataset;
  if (!(DATASET_NAMES as readonly string[]).includes(String(dataset))) {
    throw new UsageError(`--dataset ${String(dataset)}: expected one of ${DATASET_NAMES.join(', ')}`);
  }
  if (dataset === 'fashion-mnist-embedded' && values['data-dir'] !== undefined) {
    throw new UsageError(`--data-dir: fashion-mnist-embedded always reads the repository's data/fashion-mnist/; for another copy use --dataset fashion-mnist --data-dir ${String(values['data-dir'])}`);
  }
  const trainLimit = values['train-limit'] === undefined ? undefined : intFlag(values, 'train-limit', 0, 2);
  const seed = intFlag(values, 'seed', defaults.seed ?? 0, 0);
  if (seed > 0xffffffff) throw new UsageError(`--seed ${seed}: expected an integer in [0, 4294967295]`);
  return {
    device: device as DeviceChoice,
    threads: readThreadsFlag(values),
    autotune: readAutotuneFlag(values),
    seed,
    dataset: dataset as DatasetName,
    dataDir: values['data-dir'] === undefined ? undefined : String(values['data-dir']),
    channels: intFlag(values, 'channels', defaults.channels, 1),
    cells: intFlag(values, 'cells', defaults.cells, 1),
    batchSize: intFlag(values, 'batch-size', defaults.batchSize, 1),
    epochs: intFlag(values, 'epochs', defaults.epochs, 1),
    trainLimit,
  };
}
