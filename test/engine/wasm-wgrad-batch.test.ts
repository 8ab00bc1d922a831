// The wasm backend's implicit weight gradient takes several samples per kernel call (wgradBatch in
// src/engine/wasm/conv.ts): the parity suites run batches of 1–3 samples, which one call covers, so
// here the batch sizes leave a partial last call (16 + 16 + 5 samples; 5 + 5 + 2 where the scratch
// budget limits a call to 5), on one thread and split over two, with groups and dilation — each
// against the CPU reference and against one sample per call (wasmConvOptions.wgradBatch = false).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConvGeom } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { wgradBatch } from '../../src/engine/wasm/conv.js';
import { WasmBackend, wasmConvOptions } from '../../src/engine/wasm/wasm-backend.js';
import { assertClose } from '../helpers/backends.js';

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
];

test('the weight gradient over several samples per call equals the CPU reference and one sample per call', async () => {
  const cpu = new CpuBackend();
  for (const threads of [1, 2]) {
    const be = await WasmBackend.create({ threads });
    try {
      for (const [name, g, batch] of cases) {
        assert.is(wgradBatch(g), batch, `${name}: samples per call`);
        const ref = await weightGrad(cpu, g);
        const batched = await weightGrad(be, g);
        wasmConvOptions.wgradBatch = false;
        const single = await weightGrad(be, g);
        wasmConvOptions.wgradBatch = true;
        assertClose(batched, ref, 1e-4, 1e-4, `${name}, ${threads} threads: batched vs the CPU reference`);
        assertClose(single, ref, 1e-4, 1e-4, `${name}, ${threads} threads: one sample per call vs the CPU reference`);
      }
    } finally {
      wasmConvOptions.wgradBatch = true;
      be.dispose();
    }
  }
});

test.run();
