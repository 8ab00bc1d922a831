// Entry point of the wasm backend's kernel module (src/engine/wasm): it imports its (shared)
// memory, allocates nothing and keeps no state, so every worker thread can instantiate it over the
// same memory. Pointers are byte offsets into that memory; sizes count f32 elements.
export { gemmNN, gemmNT } from './gemm';
export { im2col, col2im, reluCopy, maskedStore, addChannelBias } from './im2col';
export { chanSum, chanSqDev, chanMeanSqDev, mixedSumTerms, chanDotTerms, chanBackwardTerms, chanDot, chanAffine, chanBackward, axpy } from './channels';
export { dwForward, dwInputGrad, dwWeightGrad } from './depthwise';
export { avgPool, avgPoolBackward, avgPoolS1, avgPoolBackwardS1 } from './pool';
export { maxPool, maxPoolBackward } from './maxpool';
export { packA4, gemmPacked, padPlanes, convImplicit, padRows, wgradImplicit } from './gemm-packed';
