// `node run.js train --like RUN_DIR --arch '<genotype>' [--out DIR] [--epochs N] [--seed S] [--device D]`
// Trains one genotype with exactly the retraining protocol a search used for its final pick
// (src/nas/retrain.ts: the search's network size, data, resolution, epochs and seed), so any cell —
// a reference sample, a free baseline such as the largest cell — can be compared with the search's
// `final.retrain`. Writes OUT/result.json atomically: { command, genotype, like, retrain, test }.
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { parseFlags, intFlag, UsageError } from './args.js';
import { AUTOTUNE_FLAG, AUTOTUNE_FLAG_HELP, DEVICE_CHOICES, readAutotuneFlag, type DeviceChoice } from './common-flags.js';
import { createBackend, describeBackend } from '../engine/select-backend.js';
import { autotuneBackendOptions } from '../io/autotune-cache.js';
import { readJsonFile, writeFileAtomic } from '../io/fs.js';
import { sealJson } from '../io/sealed-json.js';
import { prepareOutputFolder, freshFolderName, folderTimestamp } from '../io/out-dir.js';
import { getSpace } from '../spaces/registry.js';
import { validateSearchConfig, type SearchConfig } from '../nas/config.js';
import { loadSearchData, loadSearchTestSet } from '../nas/search-data.js';
import { retrainGenotype, RETRAIN_BN_BATCHES } from '../nas/retrain.js';

export const RETRAIN_LIKE_HELP = `usage: node run.js train --like RUN_DIR --arch '<genotype>' [flags]
Trains the genotype with the retraining protocol of the search in RUN_DIR (its final.retrain): the
search's dataset, resolution, C and N, its --retrain-epochs and its seed.
  --like DIR                 a search's output folder (state.json or result.json)
  --arch G                   NB201 genotype
  --out DIR                  output folder (default runs/retrain-<space>-<dataset>-<UTC timestamp>); an existing
                             non-empty folder is refused unless --overwrite
  --overwrite                replace the files of an existing --out folder
  --epochs N                 override the search's retraining epochs
  --seed S                   retraining seed as a search with seed S would use (default: the search's)
  --bn-batches K             training batches the BN statistics are re-estimated on before the test pass
                             (default ${RETRAIN_BN_BATCHES}, the protocol's; 0: the statistics training left)
  --device auto|webgpu|cpu   backend
${AUTOTUNE_FLAG_HELP}
  --quiet                    no per-epoch lines`;

function readRunConfig(dir: string): SearchConfig {
  const abs = resolve(dir);
  const file = existsSync(join(abs, 'state.json')) ? join(abs, 'state.json') : join(abs, 'result.json');
  if (!existsSync(file)) throw new UsageError(`--like ${dir}: neither state.json nor result.json there (not a gmnas search folder)`);
  let config: SearchConfig;
  try {
    config = (readJsonFile(file, 'search state') as { config: SearchConfig }).config;
    validateSearchConfig(config);
  } catch (e) {
    throw new UsageError(`--like ${dir}: ${file} holds no valid search configuration: ${(e as Error).message}`);
  }
  return config;
}

export async function retrainLikeCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags('train', argv, {
    like: { type: 'string' }, arch: { type: 'string' }, out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, 'bn-batches': { type: 'string' },
    device: { type: 'string' }, ...AUTOTUNE_FLAG, overwrite: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) { console.log(RETRAIN_LIKE_HELP); return 0; }
  if (positionals.length) throw new UsageError(`train: unexpected argument '${positionals[0]}'`);
  if (!v.like) throw new UsageError('--like: expected a search output folder');
  if (!v.arch) throw new UsageError('train --like: --arch is required (a genotype of the search space of that run)');
  const device = String(v.device ?? 'auto');
  if (!(DEVICE_CHOICES as readonly string[]).includes(device)) throw new UsageError(`--device ${device}: expected one of ${DEVICE_CHOICES.join(', ')}`);
  const config = readRunConfig(String(v.like));
  const space = getSpace(config.space);
  let arch: string;
  try { arch = space.formatGenotype(space.parseGenotype(String(v.arch))); } catch (e) { throw new UsageError(`--arch: ${(e as Error).message}`); }
  const epochs = intFlag(v, 'epochs', config.retrainEpochs, 1);
  if (epochs < 1) throw new UsageError(`--epochs: the search in ${String(v.like)} ran with --no-retrain; give --epochs N`);
  const seed = intFlag(v, 'seed', config.seed, 0);
  const bnBatches = intFlag(v, 'bn-batches', RETRAIN_BN_BATCHES, 0);
  // the output folder is checked before the data loads and the training starts, so a bad --out costs nothing
  let out: string;
  try {
    out = prepareOutputFolder(v.out === undefined ? freshFolderName(join('runs', `retrain-${config.space}-${config.dataset}-${folderTimestamp()}`)) : String(v.out),
      { flag: '--out', overwrite: Boolean(v.overwrite), overwriteFlag: '--overwrite' });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const say = v.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);

  const data = loadSearchData(config);
  const test = loadSearchTestSet(config);
  const backend = await createBackend(device as DeviceChoice, { log: say, ...autotuneBackendOptions(readAutotuneFlag(v)) });
  try {
    say(`retrain ${arch} like ${resolve(String(v.like))}: ${epochs} epoch(s), seed ${seed}, on ${describeBackend(backend)}`);
    const r = await retrainGenotype({
      backend, config: { ...config, seed }, data, test, genotype: arch, epochs, bnBatches,
      onEpoch: (e) => say(`epoch ${e.epoch + 1}/${epochs}  train loss ${e.train.loss.toFixed(4)} acc ${e.train.accuracy.toFixed(2)}%  ${e.seconds.toFixed(1)} s`),
    });
    writeFileAtomic(join(out, 'result.json'), `${sealJson({
      command: 'train', genotype: arch, like: resolve(String(v.like)), seed, device: describeBackend(backend),
      test: { accuracy: r.testAccuracy, loss: r.testLoss, images: r.protocol.testImages }, retrain: r,
    }, 2)}\n`);
    console.log(`${arch}  test accuracy ${r.testAccuracy.toFixed(2)}%  loss ${r.testLoss.toFixed(4)}  (${r.parameters} parameters, ${r.seconds.toFixed(1)} s)` +
      (r.trainingStatsTest ? `; ${r.trainingStatsTest.accuracy.toFixed(2)}% with the BN statistics training left` : ''));
    console.log(`wrote ${join(out, 'result.json')}`);
    return 0;
  } finally {
    backend.dispose();
  }
}
