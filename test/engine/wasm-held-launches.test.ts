// The held-launches suite (written for WebGPU) run against the wasm backend: the same checks against the CPU
// reference (test/helpers/backends.ts, GMNAS_TEST_DEVICE).
process.env.GMNAS_TEST_DEVICE = 'wasm';
await import('./held-launches.test.js');
