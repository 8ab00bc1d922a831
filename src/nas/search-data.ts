// The training set of a search, loaded the same way in the main thread and in every pool worker
// (Node only: the dataset readers use node:fs).
import { loadDataset } from '../data/load.js';
import type { Dataset } from '../data/dataset.js';
import type { SearchConfig } from './config.js';
import { prepareSearchData, type SearchData } from './phases.js';

/** The synthetic set is generated from a fixed seed (0), like a file dataset it does not depend on
 *  the search seed: two searches with different seeds see the same images. */
export function loadSearchData(c: SearchConfig): SearchData {
  const train = loadDataset(c.dataset, {
    split: 'train',
    ...(c.dataDir !== null ? { dataDir: c.dataDir } : {}),
    ...(c.trainLimit !== null ? { limit: c.trainLimit } : {}),
    ...(c.syntheticSize !== null ? { syntheticSize: c.syntheticSize } : {}),
    ...(c.resolution !== undefined ? { resolution: c.resolution } : {}),
    seed: 0,
  });
  return prepareSearchData(c, train);
}

/** The dataset's test split, as distributed (the retraining shrinks it as the search's images were);
 *  the synthetic set's test split is its default 1 000 images. */
export function loadSearchTestSet(c: SearchConfig): Dataset {
  return loadDataset(c.dataset, { split: 'test', ...(c.dataDir !== null ? { dataDir: c.dataDir } : {}), ...(c.resolution !== undefined ? { resolution: c.resolution } : {}), seed: 0 });
}
