// The engine's public surface: tensors, autograd, ops, layers, optimizers, backends.
export type { Backend, Storage, MemoryStats } from './backend.js';
export { Tensor, tidy, keep, noGrad, isGradEnabled, shapeSize } from './tensor.js';
export type { Shape } from './tensor.js';
export { backward } from './autograd.js';
export { Rng } from './rng.js';
export * from './ops/elementwise.js';
export * from './ops/conv.js';
export * from './ops/norm.js';
export * from './ops/pool.js';
export * from './ops/dense.js';
export * from './ops/loss.js';
export * from './ops/channels.js';
export * from './ops/random.js';
export * from './ops/checks.js';
export { Module } from './nn/module.js';
export * from './nn/layers.js';
export * from './optim/optimizers.js';
