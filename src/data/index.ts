// The data layer's browser-safe surface. Node code that reads dataset files imports './load.js'
// (loadDataset) or './readers/*.js' directly; nothing here touches node:fs.
export * from './dataset.js';
export * from './rng.js';
export * from './synthetic.js';
export * from './augment.js';
export * from './sampler.js';
export * from './split.js';
