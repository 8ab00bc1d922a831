// Search presets sized for a browser tab, on real data (the embedded Fashion-MNIST or the user's files).
// They are overrides of the library presets (src/nas/config.ts), so the recorded config says 'quick' or
// 'tiny' in its `preset` field and carries every changed value beside it; the worker logs the browser
// preset's name.
//
//   browser-quick  C=8 N=1, 16×16 (Fashion-MNIST padded to 32×32, ÷2), all 12 000 embedded images,
//                  25 steps of 32 per epoch, splits at epochs 2 and 4, 8 epochs, R=3: four leaves,
//                  sized for minutes on a laptop GPU (a target: not measured on a GPU yet; far too slow
//                  for a software adapter, see docs/browser.md).
//   browser-tiny   C=4 N=1, 8×8 (÷4), 2 000 images, 10 steps of 32 per epoch, one split at epoch 2,
//                  5 epochs, R=1: two leaves clear of chance on a software adapter in a few minutes;
//                  the test preset.
// Where both differ from the paper's schedule, and why (docs/browser.md):
//   - children inherit at the last split (`restart: false`): a leaf that restarts from fresh weights
//     would spend the run's few epochs relearning what its parent knew;
//   - learning rate 0.1 (the base method's default is 0.025): the runs are tens of steps long;
//   - the final pick is the leaf whose supernet scores best on the validation half
//     (`select: 'supernet-val-acc'`, the reference's original "FINAL" selector, spec §3.7): after so
//     few architecture steps the argmax path alone (shown beside it) lags far behind its supernet.
// The library presets ('tiny', 'quick', 'paper') are accepted too and used as they are.
import { defaultSearchConfig, PRESETS, type PresetName, type SearchConfig, type SearchMethod } from '../nas/config.js';
import type { DatasetName } from '../data/dataset.js';
import { defaultAugmentation, type AugmentSpec } from '../data/augment.js';

export const BROWSER_PRESETS = ['browser-quick', 'browser-tiny'] as const;
export type BrowserPresetName = (typeof BROWSER_PRESETS)[number];
export type AnyPresetName = BrowserPresetName | PresetName;

const BROWSER_PRESET_FIELDS: Record<BrowserPresetName, { library: PresetName; fields: Partial<SearchConfig> }> = {
  'browser-quick': {
    library: 'quick',
    fields: {
      channels: 8, cells: 1, batchSize: 32, stepsPerEpoch: 25, splitEpochs: [2, 4], totalEpochs: 8,
      gmRepeats: 3, valBatches: 8, downsample: 2, trainLimit: null, lr: 0.1, restart: false, select: 'supernet-val-acc',
    },
  },
  'browser-tiny': {
    library: 'tiny',
    fields: {
      channels: 4, cells: 1, batchSize: 32, stepsPerEpoch: 10, splitEpochs: [2], totalEpochs: 5,
      gmRepeats: 1, valBatches: 8, downsample: 4, trainLimit: 2000, lr: 0.1, restart: false, select: 'supernet-val-acc',
    },
  },
};

export function isAnyPresetName(name: string): name is AnyPresetName {
  return (BROWSER_PRESETS as readonly string[]).includes(name) || (PRESETS as readonly string[]).includes(name);
}

export interface BrowserConfigOptions {
  preset?: AnyPresetName;
  /** the dataset the search runs on (its registry name) */
  dataset: DatasetName;
  /** the search space (default: the registry's default, NB201) */
  space?: string;
  method?: SearchMethod;
  seed?: number;
  /** any other fields, applied last */
  config?: Partial<SearchConfig>;
}

/** The search config of a browser run; throws a one-line error for a bad preset or combination. */
export function browserSearchConfig(o: BrowserConfigOptions): SearchConfig {
  const preset = o.preset ?? 'browser-quick';
  if (!isAnyPresetName(preset)) throw new Error(`preset: expected one of ${[...BROWSER_PRESETS, ...PRESETS].join(', ')}, got '${preset}'`);
  const browser = (BROWSER_PRESETS as readonly string[]).includes(preset) ? BROWSER_PRESET_FIELDS[preset as BrowserPresetName] : null;
  const base = defaultSearchConfig({
    preset: browser ? browser.library : (preset as PresetName), ...(o.method ? { method: o.method } : {}), ...(o.space ? { space: o.space } : {}),
  });
  const config: SearchConfig = {
    ...base,
    ...(browser ? browser.fields : {}),
    dataset: o.dataset,
    syntheticSize: o.dataset === 'synthetic' ? base.syntheticSize : null,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...o.config,
  };
  return config;
}

/**
 * The training augmentation of a browser search: the dataset's default crop-and-flip with the crop's
 * padding shrunk by the same factor as the images. The library samplers pad 4 pixels whatever the
 * resolution, which on 8×8 images (÷4) shifts by half the picture and keeps a short run at chance.
 */
export function scaledAugmentation(datasetName: string, downsample: number): AugmentSpec | undefined {
  const spec = defaultAugmentation(datasetName);
  if (!spec) return undefined;
  return { ...spec, padding: Math.max(spec.padding > 0 ? 1 : 0, Math.round(spec.padding / downsample)) };
}
