// `node run.js train --space nb201 --arch '<genotype>' [--dataset D] [--data-dir DIR] [--epochs E] [--out DIR]`
// Trains one NB201 genotype from scratch with NAS-Bench-201's stand-alone settings (`--preset nb201`:
// AutoDL-Projects' 200E — 200 epochs, batch 256, nesterov SGD 0.1, weight decay 5e-4, cosine to 0, crop +
// flip, C = 16, N = 5) or a small CPU-friendly variant (`--preset quick`), then evaluates on the test
// split and writes
//   DIR/result.json         genotype, dataset, epochs, seed, test accuracy (%) and loss, the full config,
//                           the device, per-epoch history, and the benchmark row with `--bench FILE`
//   DIR/model.safetensors   the trained network, PyTorch TinyNetwork names (docs/checkpoints.md)
// both atomically. One progress line per epoch on stderr; the summary on stdout.
import { join } from 'node:path';
import { statSync } from 'node:fs';
import { parseFlags, intFlag, choiceFlag, UsageError } from './args.js';
import { COMMON_FLAGS, COMMON_FLAGS_HELP, readCommonFlags, type CommonConfig } from './common-flags.js';
import { createBackend, describeBackend } from '../engine/select-backend.js';
import type { Backend } from '../engine/index.js';
import { autotuneBackendOptions } from '../io/autotune-cache.js';
import { loadDataset } from '../data/load.js';
import { NORMALIZATION, fitToResolution, type Dataset, type Normalization } from '../data/dataset.js';
import { BatchSampler, evalBatches } from '../data/sampler.js';
import { getSpace, SPACE_NAMES, DEFAULT_SPACE_NAME, describeSize, type Genotype, type BenchTable } from '../spaces/registry.js';
import { trainStandalone, DEFAULT_STANDALONE_PRESET, type StandaloneHyper, type StandaloneEpoch } from '../search/standalone.js';
import { saveNetworkCheckpoint } from '../search/checkpoints.js';
import { writeFileAtomic } from '../io/fs.js';
import { sealJson } from '../io/sealed-json.js';
import { prepareOutputFolder, folderTimestamp, freshFolderName } from '../io/out-dir.js';
import { loadBenchTable } from '../io/bench-table-file.js';
import { parseCsvNumber } from '../io/csv.js';
import { retrainLikeCommand } from './retrain-like.js';

/** What a preset fixes: the training hyper-parameters and the defaults of the size/data flags. */
export interface TrainPreset {
  readonly hyper: Readonly<StandaloneHyper>;
  readonly channels: number;
  readonly cells: number;
  /** training images used (undefined: all) */
  readonly trainLimit?: number;
  /** test images evaluated (undefined: all) */
  readonly testLimit?: number;
  /** evaluate on the test split every this many epochs (and after the last) */
  readonly evalEvery: number;
}

export const TRAIN_PRESETS: Readonly<Record<'nb201' | 'quick', TrainPreset>> = Object.freeze({
  /** NAS-Bench-201's stand-alone training (ADL 200E) on the full network, C = 16, N = 5. */
  nb201: { hyper: DEFAULT_STANDALONE_PRESET, channels: 16, cells: 5, evalEvery: 10 },
  /** Seconds on a CPU: a narrow one-cell-per-stage network, 2 epochs on 200 images, 100 test images. */
  quick: {
    hyper: { ...DEFAULT_STANDALONE_PRESET, epochs: 2, batchSize: 50 },
    channels: 4, cells: 1, trainLimit: 200, testLimit: 100, evalEvery: 1,
  },
});
export type TrainPresetName = keyof typeof TRAIN_PRESETS;

const HELP = `usage: node run.js train --arch '<genotype>' [flags]
  --arch G                   a genotype of --space; NB201, e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|'
  --preset nb201|quick       nb201 (default): NAS-Bench-201 stand-alone training — 200 epochs, batch 256,
                             nesterov SGD lr 0.1 momentum 0.9 wd 5e-4, cosine to 0, crop + flip, C 16, N 5;
                             quick: C 4, N 1, 2 epochs of batch 50 on 200 images, 100 test images (seconds on CPU)
  --space nb201|darts|darts-none   search space of --arch (default nb201); darts: a DARTS repository genotype,
                             "Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6), reduce=[...], reduce_concat=range(2, 6))"
  --preset (darts)           paper (default): the DARTS/GM evaluation protocol — 600 epochs, batch 96, SGD 0.025
                             cosine to 0, wd 3e-4, clip 5, auxiliary head 0.4, drop-path 0.2, cutout 16, C 36, 20 cells;
                             quick: C 8, 5 cells, 2 epochs of batch 32 on 200 images
  --space mobilenet          a MobileNet genotype: 21 op names, e.g. 3x3_MBConv3,5x5_MBConv6,zero,… (docs/mobilenet.md);
                             --preset quick: width 0.25, 2 epochs of batch 64 on 2 000 images, SGD 0.1 cosine, wd 4e-5
  --width-mult W             width multiplier (mobilenet: C = 32·W); replaces --channels
  --resolution R             image side: zero-padded and shrunk (image folders: decoded) to R×R
  --aux-weight W             auxiliary-head loss weight (darts; 0: no head — needed for images other than 32×32)
  --bench FILE               NB201 table (CSV with arch_str, e.g. nb201.csv): add the genotype's row to the result
  --test-limit K             evaluate on only the first K test images
  --eval-every K             evaluate on the test split every K epochs (and after the last; 0: only after the last)
${COMMON_FLAGS_HELP}
  --overwrite                replace the files of an existing, non-empty --out folder (default: refuse)
  (default dataset: fashion-mnist-embedded; default out: runs/train-<space>-<dataset>-<UTC timestamp>)
writes OUT/result.json and OUT/model.safetensors (PyTorch TinyNetwork state_dict names)
  --like RUN_DIR             instead of a preset: the retraining protocol of that search's final pick
                             (see \`node run.js train --like DIR --help\`)`;

export interface TrainConfig extends CommonConfig {
  space: string;
  preset: string;
  genotype: string;
  out: string;
  /** --overwrite: an existing non-empty --out may be written into */
  overwrite: boolean;
  bench: string | undefined;
  testLimit: number | undefined;
  evalEvery: number;
  /** --resolution: images padded and shrunk (or decoded, image-folder) to this side */
  resolution: number | undefined;
  hyper: StandaloneHyper;
}

/** Parse and check every flag (no I/O, no device); every error names its flag. */
export function readTrainConfig(argv: string[]): TrainConfig | 'help' {
  const { values, positionals } = parseFlags('train', argv, {
    ...COMMON_FLAGS,
    arch: { type: 'string' }, space: { type: 'string' }, preset: { type: 'string' }, bench: { type: 'string' }, 'aux-weight': { type: 'string' },
    'width-mult': { type: 'string' }, resolution: { type: 'string' },
    'test-limit': { type: 'string' }, 'eval-every': { type: 'string' }, overwrite: { type: 'boolean' },
  });
  if (values.help) return 'help';
  if (positionals.length) throw new UsageError(`train: unexpected argument '${positionals[0]}' (flags take the form --name value; see \`node run.js train --help\`)`);
  const space = choiceFlag(values, 'space', SPACE_NAMES, DEFAULT_SPACE_NAME);
  // a space with its own protocol (DARTS) brings its presets; the first is the default
  const presets: Readonly<Record<string, TrainPreset>> = getSpace(space).trainPresets ?? TRAIN_PRESETS;
  const presetNames = Object.keys(presets);
  const preset = choiceFlag(values, 'preset', presetNames, presetNames[0]!);
  const p = presets[preset]!;
  if (values.arch === undefined || values.arch === '') throw new UsageError(`train: --arch is required (an NB201 genotype string)\n${HELP}`);
  let genotype: Genotype;
  try {
    genotype = getSpace(space).parseGenotype(String(values.arch));
  } catch (e) {
    throw new UsageError(`--arch: ${(e as Error).message}`);
  }
  const common = readCommonFlags(values, {
    dataset: 'fashion-mnist-embedded', channels: p.channels, cells: p.cells, batchSize: p.hyper.batchSize, epochs: p.hyper.epochs,
  });
  if (common.trainLimit === undefined && p.trainLimit !== undefined) common.trainLimit = p.trainLimit;
  if (values['width-mult'] !== undefined) {
    const sp = getSpace(space);
    if (values.channels !== undefined) throw new UsageError('--width-mult and --channels both set the network width; give one');
    if (!sp.channelsForWidthMult) throw new UsageError(`--width-mult: the ${space} space has no width multiplier (use --channels)`);
    try { common.channels = sp.channelsForWidthMult(Number(values['width-mult'])); } catch (e) { throw new UsageError(`--width-mult ${String(values['width-mult'])}: ${(e as Error).message}`); }
  }
  const resolution = values.resolution === undefined ? undefined : intFlag(values, 'resolution', 32, 4);
  const testLimit = values['test-limit'] === undefined ? p.testLimit : intFlag(values, 'test-limit', 0, 1);
  const evalEvery = intFlag(values, 'eval-every', p.evalEvery, 0);
  if (values.out === '') throw new UsageError('--out: expected a folder name');
  if (values.bench === '') throw new UsageError('--bench: expected a file name');
  return {
    ...common, space, preset, genotype: getSpace(space).formatGenotype(genotype),
    out: values.out === undefined ? freshFolderName(join('runs', `train-${space}-${common.dataset}-${folderTimestamp()}`)) : String(values.out),
    overwrite: Boolean(values.overwrite),
    bench: values.bench === undefined ? undefined : String(values.bench),
    testLimit, evalEvery, resolution,
    hyper: {
      ...p.hyper, epochs: common.epochs, batchSize: common.batchSize,
      ...(values['aux-weight'] === undefined ? {} : { auxWeight: floatFlag(values, 'aux-weight', 0) }),
    },
  };
}

function floatFlag(values: Record<string, unknown>, name: string, min: number): number {
  const v = Number(values[name]);
  if (String(values[name]).trim() === '' || !Number.isFinite(v) || v < min) throw new UsageError(`--${name} ${String(values[name])}: expected a number >= ${min}`);
  return v;
}

/** The benchmark row as JSON: numbers where the field is one, the text otherwise. */
function benchRow(table: BenchTable, genotype: string): Record<string, number | string> | null {
  const row = table.find(genotype);
  if (!row) return null;
  const out: Record<string, number | string> = {};
  for (const c of table.columns) {
    const text = table.field(row, c);
    const v = c === 'arch_str' ? undefined : parseCsvNumber(text);
    out[c] = v === undefined ? text : v;
  }
  return out;
}

function benchTable(file: string): BenchTable {
  try {
    return loadBenchTable(file);
  } catch (e) {
    throw new Error(`--bench: ${(e as Error).message}`);
  }
}

function isDirectory(path: string): boolean {
  try { return statSync(path).isDirectory(); } catch { return false; }
}

function fmtMetrics(label: string, m: { loss: number; accuracy: number }): string {
  return `${label} loss ${m.loss.toFixed(4)} acc ${m.accuracy.toFixed(2)}%`;
}

export async function trainCommand(argv: string[]): Promise<number> {
  // --like RUN_DIR: the search's own retraining protocol instead of a preset (src/cli/retrain-like.ts)
  if (argv.some((a) => a === '--like' || a.startsWith('--like='))) return retrainLikeCommand(argv);
  const cfg = readTrainConfig(argv);
  if (cfg === 'help') { console.log(HELP); return 0; }
  const say = (s: string) => process.stderr.write(`${s}\n`);

  // Everything that can fail on the user's input fails before the device starts.
  if (!['synthetic', 'fashion-mnist', 'fashion-mnist-embedded'].includes(cfg.dataset) && cfg.dataDir === undefined) {
    throw new UsageError(`--data-dir: required for --dataset ${cfg.dataset} (the folder with its files as distributed)`);
  }
  if (cfg.dataDir !== undefined && cfg.dataset !== 'synthetic' && !isDirectory(cfg.dataDir)) {
    throw new UsageError(`--data-dir ${cfg.dataDir}: no such directory`);
  }
  const table = cfg.bench === undefined ? undefined : benchTable(cfg.bench);

  const limit = (n: number | undefined) => (n === undefined ? {} : { limit: n });
  const res = cfg.resolution === undefined ? {} : { resolution: cfg.resolution };
  const fit = (ds: Dataset): Dataset => (cfg.resolution === undefined ? ds : fitToResolution(ds, cfg.resolution));
  const train: Dataset = fit(loadDataset(cfg.dataset, { dataDir: cfg.dataDir, split: 'train', ...limit(cfg.trainLimit), ...res }));
  const test: Dataset = fit(loadDataset(cfg.dataset, { dataDir: cfg.dataDir, split: 'test', ...limit(cfg.testLimit), ...res }));
  if (test.size === 0) throw new Error(`${cfg.dataset}: the test split has no images`);
  // the output folder before the training, so a bad --out cannot cost the run
  let out: string;
  try {
    out = prepareOutputFolder(cfg.out, { flag: '--out', overwrite: cfg.overwrite, overwriteFlag: '--overwrite' });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  // NB201's own normalisation for the real datasets (AutoDL-Projects' pipeline); synthetic carries its own.
  const normalization: Normalization = cfg.dataset === 'synthetic'
    ? { mean: train.mean, std: train.std }
    : getSpace(cfg.space).trainPresets ? NORMALIZATION[cfg.dataset].gm : NORMALIZATION[cfg.dataset].nb201;
  const sampler = new BatchSampler(train, { batchSize: cfg.batchSize, seed: cfg.seed, augment: true, normalization });
  const imageShape = [train.channels, train.height, train.width] as const;
  if ((cfg.hyper.auxWeight ?? 0) > 0 && (train.height !== 32 || train.width !== 32)) {
    // the auxiliary head (AvgPool 5/3, then a 2×2 conv) is sized for the 8×8 maps of 32×32 images
    if (argv.some((a) => a === '--aux-weight' || a.startsWith('--aux-weight='))) {
      throw new UsageError(`--aux-weight ${cfg.hyper.auxWeight}: the auxiliary head needs 32×32 images; ${cfg.dataset} has ${train.height}×${train.width} (pass --aux-weight 0)`);
    }
    say(`note: no auxiliary head: it needs 32×32 images and ${cfg.dataset} has ${train.height}×${train.width} (the preset's weight ${cfg.hyper.auxWeight} is dropped)`);
    cfg.hyper = { ...cfg.hyper, auxWeight: 0 };
  }
  const space = getSpace(cfg.space);
  const network = { genotype: space.parseGenotype(cfg.genotype), C: cfg.channels, N: cfg.cells, inputChannels: train.channels, numClasses: train.numClasses };

  const backend: Backend = await createBackend(cfg.device, { log: say, threads: cfg.threads, ...autotuneBackendOptions(cfg.autotune) });
  const device = describeBackend(backend);
  const started = new Date();
  try {
    say(`train ${cfg.genotype} on ${cfg.dataset} (${train.size} train / ${test.size} test images, ${cfg.hyper.epochs} epochs, ` +
      `batch ${cfg.hyper.batchSize}, ${describeSize(getSpace(cfg.space), { C: cfg.channels, N: cfg.cells }, ' ')}, preset ${cfg.preset}, seed ${cfg.seed}) on ${device}`);
    const history: { epoch: number; lr: number; train: { loss: number; accuracy: number }; test?: { loss: number; accuracy: number }; seconds: number }[] = [];
    const width = String(cfg.hyper.epochs).length;
    const onEpoch = (e: StandaloneEpoch) => {
      history.push({
        epoch: e.epoch, lr: e.lr, train: { loss: e.train.loss, accuracy: e.train.accuracy },
        ...(e.eval ? { test: { loss: e.eval.loss, accuracy: e.eval.accuracy } } : {}), seconds: e.seconds,
      });
      say(`epoch ${String(e.epoch + 1).padStart(width)}/${cfg.hyper.epochs}  lr ${e.lr.toFixed(5)}  ${fmtMetrics('train', e.train)}` +
        `${e.eval ? `  ${fmtMetrics('test', e.eval)}` : ''}  ${e.seconds.toFixed(1)} s`);
    };
    const evalBatch = Math.max(cfg.hyper.batchSize, 64);
    const result = await trainStandalone({
      backend, space, network, seed: cfg.seed, imageShape, train: sampler, stepsPerEpoch: sampler.batchesPerEpoch, hyper: cfg.hyper,
      evaluate: () => evalBatches(test, evalBatch, { normalization }), evalEvery: cfg.evalEvery, onEpoch,
    });
    const net = result.network;
    try {
      const final = result.history[result.history.length - 1].eval!;
      const parameters = net.parameters().reduce((s, p) => s + p.size, 0);
      const row = table ? benchRow(table, cfg.genotype) : undefined;
      if (table && !row) say(`warning: ${cfg.bench} has no row for ${cfg.genotype}`);
      const summary = {
        command: 'train',
        genotype: cfg.genotype,
        dataset: cfg.dataset,
        epochs: cfg.hyper.epochs,
        seed: cfg.seed,
        test: { accuracy: final.accuracy, loss: final.loss, images: final.count },
        train: { accuracy: result.history[result.history.length - 1].train.accuracy, loss: result.history[result.history.length - 1].train.loss },
        parameters,
        ...(space.cost ? { cost: { ...space.cost(network.genotype, network, train.height), resolution: train.height } } : {}),
        config: {
          space: cfg.space, preset: cfg.preset, genotype: cfg.genotype, dataset: cfg.dataset, dataDir: cfg.dataDir ?? null,
          trainImages: train.size, testImages: test.size, trainLimit: cfg.trainLimit ?? null, testLimit: cfg.testLimit ?? null,
          imageShape: [...imageShape], numClasses: train.numClasses, channels: cfg.channels, cells: cfg.cells, resolution: cfg.resolution ?? null,
          seed: cfg.seed, device: cfg.device, evalEvery: cfg.evalEvery, stepsPerEpoch: sampler.batchesPerEpoch,
          hyper: result.hyper, augmentation: sampler.augment, normalization: { mean: [...normalization.mean], std: [...normalization.std] },
          out,
        },
        device,
        history,
        ...(table ? { bench: { file: cfg.bench, row } } : {}),
        startedAt: started.toISOString(),
        seconds: (Date.now() - started.getTime()) / 1000,
      };
      await saveNetworkCheckpoint(join(out, 'model.safetensors'), net, {
        dataset: cfg.dataset, seed: String(cfg.seed), epochs: String(cfg.hyper.epochs), test_accuracy: String(final.accuracy),
      }, space);
      writeFileAtomic(join(out, 'result.json'), `${sealJson(summary, 2)}\n`);
      console.log(`${cfg.genotype}  ${cfg.dataset}  test accuracy ${final.accuracy.toFixed(2)}%  loss ${final.loss.toFixed(4)}` +
        `  (${final.count} images, ${cfg.hyper.epochs} epochs, ${summary.seconds.toFixed(1)} s on ${device})`);
      if (row) {
        const cols = Object.entries(row).filter(([c]) => c !== 'arch_str').map(([c, v]) => `${c} ${v}`).join(', ');
        console.log(`benchmark row (${cfg.bench}): ${cols}`);
      }
      if (space.cost) {
        const k = space.cost(network.genotype, network, train.height);
        console.log(`cost: ${k.params} parameters, ${k.macs} multiply-adds per image at ${train.height}×${train.width}`);
      }
      console.log(`wrote ${join(out, 'result.json')} and ${join(out, 'model.safetensors')}`);
    } finally {
      net.dispose();
    }
    return 0;
  } finally {
    backend.dispose();
  }
}
