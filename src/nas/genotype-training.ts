// The stand-alone trainings of genotypes a search runs after its leaves: the successive-halving rounds'
// short trainings (`--select halving`: each survivor trained from scratch on the weights half and scored
// on the validation half) and the final pick's retraining (src/nas/retrain.ts). One definition of each
// task, run in-process by the search (`localGenotypeTrainer`) or as train-genotype jobs on queue workers
// (src/pool, `--queue`), so a queued run's numbers equal a local run's on the CPU backend.
import type { Backend } from '../engine/index.js';
import { BatchSampler } from '../data/sampler.js';
import type { Dataset } from '../data/dataset.js';
import { getSpace } from '../spaces/registry.js';
import { trainStandalone } from '../search/standalone.js';
import type { SearchConfig } from './config.js';
import { validationData, type ProgressListener, type SearchData } from './phases.js';
import { retrainGenotype, type RetrainResult } from './retrain.js';

export type GenotypeTask =
  /** round `round` of successive halving: `genotype` (leaf `node`'s) trained `epochs` epochs with `seed` */
  | { purpose: 'halving'; node: number; round: number; genotype: string; epochs: number; seed: number }
  /** the final pick (leaf `node`'s genotype) retrained with the search's protocol for `epochs` epochs */
  | { purpose: 'retrain'; node: number; genotype: string; epochs: number };

export type GenotypeTaskResult =
  | { purpose: 'halving'; node: number; accuracy: number }
  | { purpose: 'retrain'; node: number; retrain: RetrainResult };

/** Runs `tasks` (in any order or at once) and returns their results in task order; throws when one fails. */
export type GenotypeTrainer = (tasks: GenotypeTask[]) => Promise<GenotypeTaskResult[]>;

/** A halving candidate's validation accuracy (%) after `epochs` epochs of stand-alone training from scratch. */
export async function halvingTraining(c: SearchConfig, backend: Backend, data: SearchData, genotype: string, epochs: number, seed: number): Promise<number> {
  const space = getSpace(c.space);
  const r = await trainStandalone({
    backend, space,
    network: { genotype: space.parseGenotype(genotype), C: c.channels, N: c.cells, inputChannels: data.imageShape[0], numClasses: data.numClasses },
    seed, imageShape: data.imageShape,
    train: new BatchSampler(data.train, { batchSize: c.batchSize, seed, sampling: 'independent', augment: data.augment ?? true, indices: data.split.weights }),
    stepsPerEpoch: c.stepsPerEpoch ?? Math.ceil(data.split.weights.length / c.batchSize),
    hyper: { epochs, batchSize: c.batchSize, lr: 0.1, lrMin: 0 },
    evaluate: validationData(c, data),
  });
  const acc = r.history[r.history.length - 1].eval!.accuracy;
  r.network.dispose();
  return acc;
}

/** One task on `backend`; `test` is the dataset's test split (needed by 'retrain'). */
export async function runGenotypeTask(c: SearchConfig, backend: Backend, data: SearchData, test: Dataset | undefined, task: GenotypeTask,
  onProgress?: ProgressListener): Promise<GenotypeTaskResult> {
  if (task.purpose === 'halving') {
    onProgress?.({ phase: 'select', node: task.node, label: `halving round ${task.round + 1}: leaf ${task.node}`, done: 0, total: 1 });
    return { purpose: 'halving', node: task.node, accuracy: await halvingTraining(c, backend, data, task.genotype, task.epochs, task.seed) };
  }
  if (!test) throw new Error('retrain: no test set');
  const label = (epoch: number): string => `retrain epoch ${epoch + 1}/${task.epochs}`;
  const retrain = await retrainGenotype({
    backend, config: c, data, test, genotype: task.genotype, epochs: task.epochs,
    onStep: (epoch, done, total) => onProgress?.({ phase: 'retrain', node: task.node, label: label(epoch), done, total }),
    onEpoch: (e) => onProgress?.({ phase: 'retrain', node: task.node, label: label(e.epoch), done: 1, total: 1, loss: e.train.loss, accuracy: e.train.accuracy }),
  });
  return { purpose: 'retrain', node: task.node, retrain };
}

/** The search's default: every task here, one after another. */
export function localGenotypeTrainer(c: SearchConfig, backend: Backend, data: SearchData, test: Dataset | undefined, onProgress?: ProgressListener): GenotypeTrainer {
  return async (tasks) => {
    const out: GenotypeTaskResult[] = [];
    for (const t of tasks) out.push(await runGenotypeTask(c, backend, data, test, t, onProgress));
    return out;
  };
}
