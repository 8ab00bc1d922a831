// The webgpu-methods suite (the supernet and every base method against the CPU reference) run against
// the wasm backend (test/helpers/backends.ts, GMNAS_TEST_DEVICE).
process.env.GMNAS_TEST_DEVICE = 'wasm';
await import('./webgpu-methods.test.js');
