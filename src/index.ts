// The package's public API for Node (`import ... from 'gmnas'`): the tensor engine, backend choice,
// and the self-test, so a program (or a page, through the browser bundle) can check its adapter
// against the CPU reference before trusting it.
export * from './engine/index.js';
export { CpuBackend } from './engine/cpu/cpu-backend.js';
export { createBackend, describeBackend, NO_ADAPTER_NOTICE } from './engine/select-backend.js';
export type { BackendKind, CreateBackendOptions } from './engine/select-backend.js';
export { runSelftest } from './selftest/run.js';
export type { SelftestRow, SelftestOptions, SelftestReport } from './selftest/run.js';
export { supernetStepComparison } from './selftest/supernet-step.js';
export type { SupernetStepResult, SupernetStepOptions } from './selftest/supernet-step.js';
export { adapterReport, formatAdapterReport } from './selftest/adapter.js';
export type { AdapterReport } from './selftest/adapter.js';

// The search: a config from a preset, the data (a built-in or file dataset, split into halves), a run
// store (in memory, or a folder through the CLI), and runSearch.
export { defaultSearchConfig, validateSearchConfig, PRESETS, SEARCH_METHODS } from './nas/config.js';
export type { SearchConfig, PresetName, SearchMethod } from './nas/config.js';
export { prepareSearchData } from './nas/phases.js';
export type { SearchData, ProgressEvent, ProgressListener, LeafResult, EpochRecord } from './nas/phases.js';
export { runSearch, StopRequested } from './nas/search.js';
export type { RunSearchOptions, SearchResult, FinalPick } from './nas/search.js';
export { MemoryStore } from './nas/store.js';
export type { RunStore } from './nas/store.js';
export { loadDataset } from './data/load.js';
export type { LoadOptions } from './data/load.js';
export { generateSynthetic } from './data/synthetic.js';
export type { Dataset } from './data/dataset.js';
