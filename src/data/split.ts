// The search split of a training set into a "weights" half (supernet weights are trained on it) and
// an "architecture" half (α is trained on it, and architectures are selected on it).
//
// GM-NAS (spec §2.1, `GM:WS-GM/nasbench201/train_search.py:249-262`): train_portion = 0.5,
// split = floor(0.5·N); the weights half is indices [0, split) and the architecture half [split, N),
// in file order, NOT shuffled (CIFAR: 25,000 / 25,000; ImageNet16-120: 75,850 / 75,850). Randomness
// comes only from the samplers that draw from each half.
//
// With a seed, the halves are a seeded random partition of the same sizes instead — the shape of
// AutoDL-Projects' `cifar-split.txt` (a random 25k/25k partition, spec §2.6), for comparisons with the
// original NB201 protocol. Each half is returned sorted.
//
// Browser-safe: no node: imports.

import { Rng, hashSeed } from './rng.js';
import { DataError, type Dataset } from './dataset.js';

export interface SearchSplit {
  /** Dataset indices for the weight steps. */
  readonly weights: Int32Array;
  /** Dataset indices for the architecture steps and selection. */
  readonly arch: Int32Array;
}

const SPLIT_STREAM = 0x5b17;

export function splitTrainForSearch(ds: Pick<Dataset, 'size' | 'name'>, seed?: number): SearchSplit {
  const n = ds.size;
  if (n < 2) throw new DataError(`splitTrainForSearch: dataset '${ds.name}' has ${n} image(s); the search split needs at least 2`);
  const half = Math.floor(n / 2);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (seed !== undefined) {
    if (!Number.isSafeInteger(seed)) throw new DataError(`splitTrainForSearch: seed must be a safe integer, got ${seed}`);
    new Rng(hashSeed(seed, SPLIT_STREAM)).shuffle(order);
  }
  const weights = order.slice(0, half).sort();
  const arch = order.slice(half).sort();
  return { weights, arch };
}
