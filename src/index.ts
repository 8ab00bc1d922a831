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
