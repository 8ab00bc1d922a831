// Small-plane forms of the wasm backend's convolutions. The implicit weight gradient (3×3 and 1×1) takes several samples per kernel call (wgradBatch in
// src/engine/wasm/conv.ts): the parity suites run batches of 1–3 samples, which one call covers, so
// here the batch sizes leave a partial last call (16 + 16 + 5 samples; 5 + 5 + 2 where the scratch
// budget limits a call to 5), on one thread and split over two, with groups and dilation — each
// against the CPU reference and against one sample per call (switches.wasmWeightGradBatch = false).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConvGeom } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { weightGradBatch } from '../../src/engine/wasm/conv.js';
import { WasmBackend } from '../../src/engine/wasm/wasm-backend.js';
import { assertClose } from '../helpers/backends.js';
import { switches } from '../../src/engine/switches.js';

const filled = (n: number, seed: number): Float32Array => new Float32Array(n).map((_, i) => Math.sin(i * 0.618 + seed));

function geom(N: number, C: number, S: number, over: Partial<ConvGeom> = {}): ConvGeom {
  return { N, Cin: C, H: S, W: S, Cout: C, KH: 3, KW: 3, OH: S, OW: S, strideH: 1, strideW: 1, padH: 1, padW: 1,
    dilH: 1, dilW: 1, groups: 1, reluInput: true, ...over };
}

async function weightGrad(be: WasmBackend | CpuBackend, g: ConvGeom): Promise<Float32Array> {
  const nx = g.N * g.Cin * g.H * g.W, ny = g.N * g.Cout * g.OH * g.OW, nw = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  const x = be.upload(filled(nx, 1)), dy = be.upload(filled(ny, 3)), dw = be.upload(filled(nw, 5)); // dw: junk to overwrite
  be.conv2dWeightGrad(dy, x, dw, g);
  const out = await be.read(dw);
  for (const s of [x, dy, dw]) be.release(s);
  return out;
}

const cases: [string, ConvGeom, number][] = [
  ['C8 4×4, N 37', geom(37, 8, 4), 16],
  ['C16 16×16, N 12', geom(12, 16, 16), 5],
  ['C8 6×6 groups 2, dilation 2, N 21', geom(21, 8, 6, { groups: 2, dilH: 2, dilW: 2, padH: 2, padW: 2 }), 16],
  // 1×1: dy and x (ReLU'd into scratch, or read in place) are the operands
  ['1×1 C32 4×4, N 37', geom(37, 32, 4, { KH: 1, KW: 1, padH: 0, padW: 0 }), 16],
  ['1×1 C8→16 groups 2 6×6 no ReLU, N 19', geom(19, 8, 6, { Cout: 16, KH: 1, KW: 1, padH: 0, padW: 0, groups: 2, reluInput: false }), 16],
  ['1×1 C8 16×16 (gemmNT per sample), N 3', geom(3, 8, 16, { KH: 1, KW: 1, padH: 0, padW: 0 }), 0],
];

test('the weight gradient over several samples per call equals the CPU reference and one sample per call', async () => {
  const cpu = new CpuBackend();
  for (const threads of [1, 2]) {
    const be = await WasmBackend.create({ threads });
    try {
      for (const [name, g, batch] of cases) {
        assert.is(weightGradBatch(g), batch, `${name}: samples per call`);
        const ref = await weightGrad(cpu, g);
        const batched = await weightGrad(be, g);
        switches.wasmWeightGradBatch = false;
        const single = await weightGrad(be, g);
        switches.wasmWeightGradBatch = true;
        assertClose(batched, ref, 1e-4, 1e-4, `${name}, ${threads} threads: batched vs the CPU reference`);
        assertClose(single, ref, 1e-4, 1e-4, `${name}, ${threads} threads: one sample per call vs the CPU reference`);
      }
    } finally {
      switches.wasmWeightGradBatch = true;
      be.dispose();
    }
  }
});

/** forward and fused-ReLU input gradient (accumulating into junk) on `be`, read back */
async function forwardAndInputGrad(be: WasmBackend | CpuBackend, g: ConvGeom): Promise<Float32Array[]> {
  const nx = g.N * g.Cin * g.H * g.W, ny = g.N * g.Cout * g.OH * g.OW, nw = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  const x = be.upload(filled(nx, 1)), w = be.upload(filled(nw, 2)), dy = be.upload(filled(ny, 3));
  const y = be.upload(filled(ny, 4)), dx = be.upload(filled(nx, 5));
  be.conv2d(x, w, null, y, g);
  be.conv2dInputGrad(dy, w, dx, g, x, true);
  const out = await Promise.all([be.read(y), be.read(dx)]);
  for (const s of [x, w, dy, y, dx]) be.release(s);
  return out;
}

// convImplicit runs planes 4 to 7 wide two rows at a time (8 accumulators): even and odd row counts,
// a scalar remainder column, and the input gradient's masked, accumulating epilogue
test('forward and input gradient on planes 4 to 7 wide (two rows at a time) equal the CPU reference', async () => {
  const cpu = new CpuBackend(), be = await WasmBackend.create({ threads: 1 });
  try {
    for (const [name, g] of [['C32 4×4', geom(3, 32, 4)], ['C8 5×6', { ...geom(2, 8, 5), W: 6, OW: 6 }],
      ['C8 7×5 5×5 kernel', { ...geom(2, 8, 7), W: 5, OW: 5, KH: 5, KW: 5, padH: 2, padW: 2 }]] as [string, ConvGeom][]) {
      const ref = await forwardAndInputGrad(cpu, g), got = await forwardAndInputGrad(be, g);
      assertClose(got[0], ref[0], 1e-4, 1e-4, `${name}: forward`);
      assertClose(got[1], ref[1], 1e-4, 1e-4, `${name}: input gradient`);
    }
  } finally {
    be.dispose();
  }
});

test.run();
