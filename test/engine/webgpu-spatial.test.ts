// The spatial WGSL kernels (convolution, pooling, batch norm, dense) against the CPU reference
// backend: random data, odd sizes (7x5 images, 3 channels), stride 2, dilation 2, groups and
// depthwise, 1x1 and large kernels, N = 1, a few NB201 shapes, with and without the optional
// operands. Convolutions run twice: with the subgroup shader variants (when the device has them)
// and with the portable ones. Outputs start from junk so "outputs are overwritten" is checked too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, BatchNormGeom, ConvGeom, PoolGeom, Storage } from '../../src/engine/backend.js';
import { convOutSize } from '../../src/engine/backend.js';
import { implicitGemm } from '../../src/engine/webgpu/kernels/conv.js';
import type { GpuRuntime, GpuStorage } from '../../src/engine/webgpu/runtime.js';
import { depthwiseApplies } from '../../src/engine/webgpu/kernels/depthwise.js';
import { assertClose, randn, randu, testBackends, testingWasm } from '../helpers/backends.js';
import { switches, withSwitches } from '../../src/engine/switches.js';

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

let seed = 5000;
const next = () => seed++;
const junk = (n: number) => randn(n, next());

/** Run `op` on both backends; `outputs` are the initial contents of the storages it writes. */
async function onBoth(inputs: (Float32Array | null)[], outputs: (Float32Array | null)[],
  op: (b: Backend, ins: (Storage | null)[], outs: (Storage | null)[]) => void): Promise<[Float32Array[], Float32Array[]]> {
  const results: Float32Array[][] = [];
  for (const b of [cpu, gpu!]) {
    const ins = inputs.map((a) => (a ? b.upload(a) : null));
    const outs = outputs.map((a) => (a ? b.upload(a) : null));
    op(b, ins, outs);
    const got: Float32Array[] = [];
    for (const o of outs) if (o) got.push(await b.read(o));
    for (const s of [...ins, ...outs]) if (s) b.release(s);
    results.push(got);
  }
  return [results[0], results[1]];
}

/** Compare with a tolerance relative to the largest expected magnitude (sums of many terms). */
async function check(label: string, inputs: (Float32Array | null)[], outputs: (Float32Array | null)[],
  op: (b: Backend, ins: (Storage | null)[], outs: (Storage | null)[]) => void, rel = 2e-5): Promise<void> {
  const [want, got] = await onBoth(inputs, outputs, op);
  want.forEach((w, k) => {
    let scale = 0;
    for (const v of w) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    assertClose(got[k], w, 1e-5, rel * scale + 1e-6, `${label} output ${k}`);
  });
}

// ---- convolution ----------------------------------------------------------------------------

function conv(N: number, Cin: number, H: number, W: number, Cout: number, K: number | [number, number],
  stride = 1, pad: number | [number, number] = 0, dil = 1, groups = 1): ConvGeom {
  const [KH, KW] = typeof K === 'number' ? [K, K] : K;
  const [padH, padW] = typeof pad === 'number' ? [pad, pad] : pad;
  return {
    N, Cin, H, W, Cout, KH, KW, groups, strideH: stride, strideW: stride, padH, padW, dilH: dil, dilW: dil,
    OH: convOutSize(H, KH, stride, padH, dil), OW: convOutSize(W, KW, stride, padW, dil),
  };
}

const gstr = (g: ConvGeom) => `N${g.N} C${g.Cin}->${g.Cout} ${g.H}x${g.W} k${g.KH}x${g.KW} s${g.strideH} ` +
  `p${g.padH},${g.padW} d${g.dilH} g${g.groups}`;

async function checkConv(g: ConvGeom, bias: boolean, label: string): Promise<void> {
  const xn = g.N * g.Cin * g.H * g.W, yn = g.N * g.Cout * g.OH * g.OW;
  const wn = g.Cout * (g.Cin / g.groups) * g.KH * g.KW;
  const x = randn(xn, next()), w = randn(wn, next()), dy = randn(yn, next());
  const b = bias ? randn(g.Cout, next()) : null;
  const name = `${label} ${gstr(g)}`;
  await check(`conv2d ${name} bias=${bias}`, [x, w, b], [junk(yn)],
    (be, [xs, ws, bs], [ys]) => be.conv2d(xs!, ws!, bs, ys!, g));
  await check(`conv2dInputGrad ${name}`, [dy, w], [junk(xn)],
    (be, [d, ws], [dxs]) => be.conv2dInputGrad(d!, ws!, dxs!, g));
  await check(`conv2dWeightGrad ${name}`, [dy, x], [junk(wn)],
    (be, [d, xs], [dws]) => be.conv2dWeightGrad(d!, xs!, dws!, g), 5e-5);
}

const SMALL_CONVS: [ConvGeom, boolean][] = [
  [conv(2, 3, 7, 5, 4, 3, 1, 1), true],             // odd image, 3 input channels, bias
  [conv(2, 4, 9, 9, 6, 3, 2, 1, 1, 2), false],      // stride 2, groups 2 (3 outputs per group)
  [conv(2, 16, 8, 8, 16, 3, 2, 1, 1, 2), true],     // stride 2, groups 2, 8 channels per group
  [conv(2, 8, 9, 9, 8, 3, 1, 2, 2, 8), false],      // depthwise, dilation 2
  [conv(3, 16, 9, 7, 16, 5, 1, 4, 2), true],        // 5x5 dilation 2
  [conv(1, 6, 6, 6, 12, 1, 2, 0, 1, 3), true],      // N = 1, 1x1 stride 2, groups 3
  [conv(2, 4, 7, 9, 8, [3, 1], 1, [1, 0]), false],  // 3x1 kernel
  [conv(2, 8, 11, 11, 16, 7, 2, 3), true],          // 7x7 stride 2
  [conv(2, 3, 23, 23, 8, 11, 4, 2), false],         // 11x11 stride 4: windows too wide for registers
  [conv(1, 8, 1, 6, 16, 3, 1, 1), true],            // one output row: weight gradient without split-K
  // rows read as aligned vec4s (VEC_WINDOW: stride 1, "same" window, width % 4 == 0)
  [conv(2, 4, 5, 12, 8, 3, 1, 1), true],            // 12 wide: the second vec4 of the last tile is outside
  [conv(2, 8, 4, 4, 8, 3, 1, 1, 1, 8), false],      // 4 wide (one vec4 per row), depthwise
  [conv(1, 4, 6, 8, 4, 5, 1, 2), true],             // 5x5: a halo of 2 each side
  [conv(2, 6, 3, 16, 4, 1), false],                 // 1x1: no halo
  [conv(2, 4, 6, 8, 4, [1, 3], 1, [0, 1]), false],  // 1x3 kernel
];

test('conv2d, conv2dInputGrad, conv2dWeightGrad: odd shapes', async () => {
  if (!gpu) return;
  for (const [g, bias] of SMALL_CONVS) await checkConv(g, bias, 'default');
});

test('conv kernels: portable (no-subgroup) shader variants', async () => {
  if (!gpu) return;
  await withSwitches({ subgroups: false }, async () => {
    for (const [g, bias] of [SMALL_CONVS[0], SMALL_CONVS[2], SMALL_CONVS[10]]) await checkConv(g, bias, 'portable');
  });
});

test('conv kernels: NB201 shapes', async () => {
  if (!gpu) return;
  await checkConv(conv(64, 16, 32, 32, 16, 3, 1, 1), false, 'nb201');
  await checkConv(conv(4, 16, 32, 32, 16, 1), false, 'nb201');
  await checkConv(conv(8, 64, 8, 8, 64, 3, 1, 1), false, 'nb201');
  await checkConv(conv(4, 16, 32, 32, 32, 3, 2, 1), false, 'nb201 reduction');
});

test('depthwise convolutions as the DARTS ops run them: fused ReLU, stride 2, dilation 2, 5x5, accumulated input gradient', async () => {
  if (!gpu) return;
  const relu = (g: ConvGeom): ConvGeom => ({ ...g, reluInput: true });
  for (const g of [
    relu(conv(2, 6, 8, 8, 6, 3, 1, 1, 1, 6)),    // sep_conv_3x3, normal cell
    relu(conv(2, 6, 8, 8, 6, 5, 2, 2, 1, 6)),    // sep_conv_5x5 on a reduction edge
    relu(conv(3, 4, 9, 7, 4, 3, 2, 2, 2, 4)),    // dil_conv_3x3 stride 2, odd sizes
    relu(conv(2, 5, 6, 10, 5, 5, 1, 4, 2, 5)),   // dil_conv_5x5: padding 4 > half the image
    conv(1, 3, 5, 5, 3, 3, 1, 1, 1, 3),          // no ReLU, N = 1
  ]) {
    const xn = g.N * g.Cin * g.H * g.W, yn = g.N * g.Cout * g.OH * g.OW, wn = g.Cout * g.KH * g.KW;
    const x = randn(xn, next()), w = randn(wn, next()), dy = randn(yn, next()), dx0 = randn(xn, next());
    const name = `depthwise ${gstr(g)}${g.reluInput ? ' relu' : ''}`;
    await check(`conv2d ${name}`, [x, w], [junk(yn)], (be, [xs, ws], [ys]) => be.conv2d(xs!, ws!, null, ys!, g));
    await check(`conv2dInputGrad ${name}`, [dy, w, x], [junk(xn)], (be, [d, ws, xs], [dxs]) => be.conv2dInputGrad(d!, ws!, dxs!, g, xs, false));
    await check(`conv2dInputGrad accumulate ${name}`, [dy, w, x], [dx0], (be, [d, ws, xs], [dxs]) => be.conv2dInputGrad(d!, ws!, dxs!, g, xs, true));
    await check(`conv2dWeightGrad ${name}`, [dy, x], [junk(wn)], (be, [d, xs], [dws]) => be.conv2dWeightGrad(d!, xs!, dws!, g), 5e-5);
  }
});

// Convolution pairs (kernels/conv-pair.ts): a convolution and a 1x1 partner over the same input run
// as one launch. The CPU runs the two calls one after the other; the GPU must pair them (counted
// against the same calls with pairing off) and give the same sums.
async function checkPair(g: ConvGeom, label: string): Promise<void> {
  const g1: ConvGeom = { ...conv(g.N, g.Cin, g.H, g.W, g.Cout, 1), reluInput: g.reluInput };
  const xn = g.N * g.Cin * g.H * g.W, yn = g.N * g.Cout * g.OH * g.OW;
  const wn = g.Cout * g.Cin * g.KH * g.KW, w1n = g.Cout * g.Cin;
  const x = randn(xn, next()), w = randn(wn, next()), w1 = randn(w1n, next());
  const dy = randn(yn, next()), dy1 = randn(yn, next());
  const name = `${label} ${gstr(g)}${g.reluInput ? ' relu' : ''}`;
  type Op = (b: Backend, ins: (Storage | null)[], outs: (Storage | null)[]) => void;
  const cases: [string, (Float32Array | null)[], (Float32Array | null)[], Op, number][] = [
    ['forward, 1x1 first', [x, w, w1], [junk(yn), junk(yn)], (b, [xs, ws, w1s], [y, y1]) => {
      b.conv2d(xs!, w1s!, null, y1!, g1); b.conv2d(xs!, ws!, null, y!, g);
    }, 1],
    ['forward, 1x1 second', [x, w, w1], [junk(yn), junk(yn)], (b, [xs, ws, w1s], [y, y1]) => {
      b.conv2d(xs!, ws!, null, y!, g); b.conv2d(xs!, w1s!, null, y1!, g1);
    }, 1],
    ['input gradients into one dx', [dy, dy1, w, w1, x], [junk(xn)], (b, [d, d1, ws, w1s, xs], [dx]) => {
      b.conv2dInputGrad(d!, ws!, dx!, g, xs, false); b.conv2dInputGrad(d1!, w1s!, dx!, g1, xs, true);
    }, 1],
    ['input gradients added to dx, 1x1 first', [dy, dy1, w, w1, x], [junk(xn)], (b, [d, d1, ws, w1s, xs], [dx]) => {
      b.conv2dInputGrad(d1!, w1s!, dx!, g1, xs, true); b.conv2dInputGrad(d!, ws!, dx!, g, xs, true);
    }, 1],
    ['weight gradients', [dy, dy1, x], [junk(wn), junk(w1n)], (b, [d, d1, xs], [dw, dw1]) => {
      b.conv2dWeightGrad(d!, xs!, dw!, g); b.conv2dWeightGrad(d1!, xs!, dw1!, g1);
    }, 1],
    // the order an edge's backward runs them in: input and weight gradient of one, then the other's
    ['backward, interleaved', [dy, dy1, w, w1, x], [junk(xn), junk(wn), junk(w1n)], (b, [d, d1, ws, w1s, xs], [dx, dw, dw1]) => {
      b.conv2dInputGrad(d!, ws!, dx!, g, xs, true); b.conv2dWeightGrad(d!, xs!, dw!, g);
      b.conv2dInputGrad(d1!, w1s!, dx!, g1, xs, true); b.conv2dWeightGrad(d1!, xs!, dw1!, g1);
    }, 2],
  ];
  for (const [what, ins, outs, op, saved] of cases) {
    await check(`pair ${what} ${name}`, ins, outs, op, 5e-5);
    const launches: number[] = [];
    for (const on of [false, true]) {
      switches.convPairs = on;
      const st = ins.map((a) => gpu!.upload(a!)), os = outs.map((a) => gpu!.upload(a!));
      const d0 = gpu!.dispatchCount();
      op(gpu!, st, os);
      await gpu!.sync();
      launches.push(gpu!.dispatchCount() - d0);
      for (const t of [...st, ...os]) gpu!.release(t);
    }
    assert.is(launches[1], launches[0] - saved, `pair ${what} ${name}: launches with pairs ${launches[1]}, without ${launches[0]}`);
  }
}

test('convolution pairs: a convolution and its 1x1 partner in one launch (forward, input and weight gradients)', async () => {
  if (!gpu || testingWasm()) return; // WebGPU launch structure, not values
  const relu = (g: ConvGeom): ConvGeom => ({ ...g, reluInput: true });
  await checkPair(relu(conv(2, 8, 8, 8, 8, 3, 1, 1)), 'default');           // NB201 edge, rows of two vec4s
  await checkPair(conv(3, 16, 5, 4, 16, 3, 1, 1), 'default');               // rows of one vec4, no ReLU
  await checkPair(relu(conv(2, 4, 6, 12, 8, 5, 1, 2)), 'default');          // 5x5, Cin != Cout, 12 wide
  await checkPair(relu(conv(2, 16, 16, 16, 16, 3, 1, 2, 2)), 'default');    // dilation 2, "same" grid
  await checkPair(relu(conv(8, 16, 32, 32, 16, 3, 1, 1)), 'nb201');         // split-K weight gradients
  await checkPair(relu(conv(8, 4, 8, 8, 4, 3, 1, 1)), 'default');           // 4 channels: portable weight gradient
  await checkPair(relu(conv(8, 8, 4, 4, 8, 3, 1, 1)), 'default');
  await withSwitches({ subgroups: false }, async () => {
    await checkPair(relu(conv(2, 8, 8, 8, 8, 3, 1, 1)), 'portable');
  });
  for (const cv of [1, 4]) {
    await withSwitches({ convColumnGroups: cv }, async () => {
      await checkPair(relu(conv(2, 8, 8, 8, 16, 3, 1, 1)), `cv${cv}`);
    });
  }
});

test('convolution pairs: the register blockings the autotuner may pick (TC 16 and 2, CV 1 and 2)', async () => {
  if (!gpu || testingWasm()) return; // WebGPU launch structure, not values
  const rt = (gpu as unknown as { rt: GpuRuntime }).rt;
  const g3: ConvGeom = { ...conv(2, 16, 6, 8, 16, 3, 1, 1), reluInput: true };
  const g1: ConvGeom = { ...conv(2, 16, 6, 8, 16, 1), reluInput: true };
  const n = 2 * 16 * 48;
  const x = randn(n, next()), w3 = randn(16 * 16 * 9, next()), w1 = randn(256, next());
  const dy = randn(n, next()), dy1 = randn(n, next());
  for (const tc of [16, 2]) { // 8 is the rule's (checkPair); 16 fetches lanes 8-15 too
    for (const cv of [1, 2]) {
      const blocking = { tc, cv };
      await check(`pair forward tc${tc} cv${cv}`, [x, w3, w1], [junk(n), junk(n)], (b, [xs, w3s, w1s], [y, y1]) => {
        if (b === cpu) { b.conv2d(xs!, w3s!, null, y!, g3); b.conv2d(xs!, w1s!, null, y1!, g1); return; }
        implicitGemm(rt, blocking, xs as GpuStorage, w3s as GpuStorage, null, y as GpuStorage, g3, false, null, false, false, { w: w1s as GpuStorage, other: y1 as GpuStorage });
      });
      await check(`pair input gradient tc${tc} cv${cv}`, [dy, dy1, w3, w1, x], [junk(n)], (b, [d, d1, w3s, w1s, xs], [dx]) => {
        if (b === cpu) { b.conv2dInputGrad(d!, w3s!, dx!, g3, xs, true); b.conv2dInputGrad(d1!, w1s!, dx!, g1, xs, true); return; }
        implicitGemm(rt, blocking, d as GpuStorage, w3s as GpuStorage, null, dx as GpuStorage, g3, true, xs as GpuStorage, true, false, { w: w1s as GpuStorage, other: d1 as GpuStorage });
      });
    }
  }
});

test('convolution pairs: launches that are not independent do not pair', async () => {
  if (!gpu) return;
  const g3 = conv(2, 8, 8, 8, 8, 3, 1, 1), g1 = conv(2, 8, 8, 8, 8, 1);
  const n = 2 * 8 * 64;
  const x = randn(n, next()), w3 = randn(576, next()), w1 = randn(64, next()), dy = randn(n, next());
  // two forwards into one output: the second one's result stands
  await check('two forwards into one y', [x, w3, w1], [junk(n)], (b, [xs, w3s, w1s], [y]) => {
    b.conv2d(xs!, w1s!, null, y!, g1); b.conv2d(xs!, w3s!, null, y!, g3);
  });
  // a forward whose partner reads its output
  await check('a forward reading the output of the one before', [x, w3, w1], [junk(n), junk(n)], (b, [xs, w3s, w1s], [y, z]) => {
    b.conv2d(xs!, w3s!, null, y!, g3); b.conv2d(y!, w1s!, null, z!, g1);
  });
  // an input gradient whose dy is the dx the one before writes
  await check('an input gradient reading the dx of the one before', [dy, w3, w1, x], [junk(n), junk(n)], (b, [d, w3s, w1s, xs], [dx, dx2]) => {
    b.conv2dInputGrad(d!, w3s!, dx!, g3, xs, false); b.conv2dInputGrad(dx!, w1s!, dx2!, g1, xs, false);
  });
});

// Depthwise (groups = Cin = Cout) geometries of the DARTS space (sep_conv 3x3 / 5x5, dil_conv 3x3 / 5x5
// with dilation 2, stride 1 in normal cells and 2 in reduction cells) and the MobileNet space (3x3 /
// 5x5 / 7x7, stride 1 and 2), plus odd widths (a strip partly outside the row), 1-row planes and a
// window wider than the image: all served by conv2d_depthwise.wgsl (checked with depthwiseApplies).
const DEPTHWISE: ConvGeom[] = [
  conv(2, 8, 16, 16, 8, 3, 1, 1, 1, 8),   // sep_conv_3x3
  conv(2, 8, 16, 16, 8, 5, 1, 2, 1, 8),   // sep_conv_5x5
  conv(2, 8, 16, 16, 8, 3, 1, 2, 2, 8),   // dil_conv_3x3
  conv(2, 8, 16, 16, 8, 5, 1, 4, 2, 8),   // dil_conv_5x5
  conv(2, 8, 16, 16, 8, 3, 2, 1, 1, 8),   // reduction cell: stride 2
  conv(2, 8, 16, 16, 8, 5, 2, 4, 2, 8),   // dil_conv_5x5, stride 2
  conv(2, 6, 14, 14, 6, 7, 2, 3, 1, 6),   // MobileNet 7x7 stride 2
  conv(1, 3, 7, 5, 3, 3, 1, 1, 1, 3),     // odd sizes
  conv(3, 5, 9, 11, 5, 5, 2, 2, 1, 5),    // odd sizes, stride 2
  conv(2, 4, 1, 9, 4, [1, 3], 1, [0, 1], 1, 4), // one row
  conv(1, 4, 3, 3, 4, 7, 1, 3, 1, 4),     // window wider than the image
  conv(2, 4, 6, 6, 4, 3, 1, 0, 1, 4),     // no padding
];

test('depthwise conv kernels (conv2d_depthwise.wgsl): DARTS and MobileNet geometries, odd shapes', async () => {
  if (!gpu) return;
  for (const g of DEPTHWISE) {
    assert.ok(depthwiseApplies(g), `depthwise kernel serves ${gstr(g)}`);
    await checkConv(g, g.KH === 5, 'depthwise');
  }
});

test('depthwise conv kernels: fused ReLU input, accumulated input gradient, forced weight-gradient splits', async () => {
  if (!gpu) return;
  for (const g0 of [DEPTHWISE[0], DEPTHWISE[5], DEPTHWISE[8]]) {
    const g = { ...g0, reluInput: true };
    const xn = g.N * g.Cin * g.H * g.W, yn = g.N * g.Cout * g.OH * g.OW, wn = g.Cout * g.KH * g.KW;
    const x = randn(xn, next()), w = randn(wn, next()), dy = randn(yn, next()), dx0 = randn(xn, next());
    const name = `relu ${gstr(g)}`;
    await check(`conv2d ${name}`, [x, w], [junk(yn)], (be, [xs, ws], [ys]) => be.conv2d(xs!, ws!, null, ys!, g));
    await check(`conv2dInputGrad accumulate ${name}`, [dy, w, x], [dx0],
      (be, [d, ws, xs], [dxs]) => be.conv2dInputGrad(d!, ws!, dxs!, g, xs, true));
    for (const splits of [1, 3, 7]) {
      await withSwitches({ depthwiseWeightGradSplits: splits }, async () => {
        await check(`conv2dWeightGrad splits ${splits} ${name}`, [dy, x], [junk(wn)],
          (be, [d, xs], [dws]) => be.conv2dWeightGrad(d!, xs!, dws!, g), 5e-5);
      });
    }
  }
});

test('depthwise geometries the kernel does not serve stay on the implicit-GEMM kernels', () => {
  assert.not.ok(depthwiseApplies(conv(1, 4, 8, 8, 8, 3, 1, 1, 1, 4)), 'channel multiplier 2');
  assert.not.ok(depthwiseApplies(conv(1, 4, 8, 8, 4, 3, 1, 1, 1, 2)), 'groups 2');
  assert.not.ok(depthwiseApplies(conv(1, 4, 40, 40, 4, 9, 1, 4, 4, 4)), 'span 4 + 8*4 > 32');
  assert.not.ok(depthwiseApplies(conv(1, 1, 8, 8, 1, 3, 1, 1, 1, 1)), 'groups 1 (an ordinary conv)');
});

test('channelSum', async () => {
  if (!gpu) return;
  for (const [N, C, HW] of [[1, 1, 1], [3, 5, 35], [64, 16, 1024], [2, 300, 3]]) {
    const x = randn(N * C * HW, next());
    await check(`channelSum ${N}x${C}x${HW}`, [x], [junk(C)], (b, [xs], [o]) => b.channelSum(xs!, o!, { N, C, HW }));
  }
});

// ---- pooling ------------------------------------------------------------------------------

function pool(kind: 'avg' | 'max', N: number, C: number, H: number, W: number, K: number, stride: number,
  pad: number, countIncludePad = false): PoolGeom {
  return {
    kind, N, C, H, W, KH: K, KW: K, strideH: stride, strideW: stride, padH: pad, padW: pad, countIncludePad,
    OH: convOutSize(H, K, stride, pad), OW: convOutSize(W, K, stride, pad),
  };
}

async function checkPool(g: PoolGeom, x: Float32Array): Promise<void> {
  const label = `${g.kind} N${g.N} C${g.C} ${g.H}x${g.W} k${g.KH} s${g.strideH} p${g.padH} cip=${g.countIncludePad}`;
  const yn = g.N * g.C * g.OH * g.OW, xn = x.length;
  const dy = randn(yn, next());
  await check(`pool2d ${label}`, [x], [junk(yn)], (b, [xs], [ys]) => b.pool2d(xs!, ys!, g));
  await check(`pool2dBackward ${label}`, [dy, x], [junk(xn)], (b, [d, xs], [dxs]) => b.pool2dBackward(d!, xs!, dxs!, g));
}

test('pool2d and pool2dBackward', async () => {
  if (!gpu) return;
  const cases: PoolGeom[] = [];
  for (const kind of ['avg', 'max'] as const) {
    cases.push(pool(kind, 2, 3, 7, 5, 3, 1, 1, kind === 'avg'), pool(kind, 2, 3, 8, 8, 2, 2, 0),
      pool(kind, 1, 2, 13, 11, 5, 4, 2, false), pool(kind, 8, 16, 32, 32, 3, 1, 1, false));
  }
  cases.push(pool('avg', 2, 3, 7, 5, 3, 1, 1, false), pool('avg', 1, 2, 9, 7, 3, 2, 1, true));
  for (const g of cases) await checkPool(g, randn(g.N * g.C * g.H * g.W, next()));
});

test('3x3 stride-1 average pooling with W % 4 == 0 (the strip kernels of pool2d_3x3s1.wgsl)', async () => {
  if (!gpu) return;
  // with and without the padded zeros in the divisor; one 4-column strip (both edges in it), 1-row
  // and 2-row planes, a tall narrow one; 8x6 (W % 4 != 0) and 5x5 windows stay on the general kernels
  const cases = [
    pool('avg', 2, 3, 8, 8, 3, 1, 1, false), pool('avg', 2, 3, 8, 8, 3, 1, 1, true),
    pool('avg', 2, 2, 5, 4, 3, 1, 1, false), pool('avg', 2, 2, 1, 12, 3, 1, 1, false),
    pool('avg', 1, 3, 2, 8, 3, 1, 1, true), pool('avg', 1, 2, 17, 4, 3, 1, 1, false),
    pool('avg', 1, 2, 8, 6, 3, 1, 1, false), pool('avg', 1, 2, 8, 8, 5, 1, 2, false),
  ];
  for (const g of cases) await checkPool(g, randn(g.N * g.C * g.H * g.W, next()));
});

test('max pool ties go to the first maximum; a NaN wins', async () => {
  if (!gpu) return;
  const g = pool('max', 2, 3, 7, 6, 3, 1, 1);
  const n = g.N * g.C * g.H * g.W;
  // values in {-1, -0.5, 0, 0.5, 1}: many ties inside every window
  const x = randu(n, 0, 1, next()).map((v) => Math.floor(v * 5) / 2 - 1);
  await checkPool(g, x);
  x[17] = NaN;
  x[60] = NaN;
  await checkPool(g, x);
  // the gradient of a tie goes to exactly one input: the total is preserved
  const dy = new Float32Array(g.N * g.C * g.OH * g.OW).fill(1);
  const [, [dx]] = await onBoth([dy, x.map((v) => (Number.isNaN(v) ? 0 : v))], [junk(n)],
    (b, [d, xs], [dxs]) => b.pool2dBackward(d!, xs!, dxs!, g));
  assert.is(dx.reduce((s, v) => s + v, 0), dy.length);
});

test('globalAvgPool and its backward', async () => {
  if (!gpu) return;
  for (const [N, C, HW] of [[1, 1, 1], [3, 5, 7], [64, 64, 64]]) {
    const x = randn(N * C * HW, next()), dy = randn(N * C, next());
    const g = { N, C, HW };
    await check(`globalAvgPool ${N}x${C}x${HW}`, [x], [junk(N * C)], (b, [xs], [ys]) => b.globalAvgPool(xs!, ys!, g));
    await check(`globalAvgPoolBackward ${N}x${C}x${HW}`, [dy], [junk(N * C * HW)],
      (b, [d], [dxs]) => b.globalAvgPoolBackward(d!, dxs!, g));
  }
});

// ---- batch norm ---------------------------------------------------------------------------

const BN_SHAPES: [number, number, number][] = [[4, 3, 35], [1, 5, 7], [64, 16, 1024], [2, 70, 1]];

test('batchNormTrain with and without affine parameters and running statistics', async () => {
  if (!gpu) return;
  for (const [N, C, HW] of BN_SHAPES) {
    const g: BatchNormGeom = { N, C, HW, eps: 1e-5, momentum: 0.1 };
    const n = N * C * HW;
    // an offset mean and a modest spread: the variance must not cancel
    const x = randn(n, next()).map((v, i) => 3 + (i % 7) * 0.1 + 0.5 * v);
    const gamma = randu(C, 0.5, 1.5, next()), beta = randn(C, next());
    const rm = randn(C, next()), rv = randu(C, 0.5, 2, next());
    for (const affine of [false, true]) {
      for (const running of [false, true]) {
        const label = `batchNormTrain ${N}x${C}x${HW} affine=${affine} running=${running}`;
        await check(label, [x, affine ? gamma : null, affine ? beta : null],
          [junk(n), junk(C), junk(C), running ? rm : null, running ? rv : null],
          (b, [xs, gs, bs], [ys, sm, si, r1, r2]) => b.batchNormTrain(xs!, gs, bs, ys!, sm!, si!, r1, r2, g), 1e-4);
      }
    }
  }
});

test('batchNormEval', async () => {
  if (!gpu) return;
  for (const [N, C, HW] of BN_SHAPES) {
    const g: BatchNormGeom = { N, C, HW, eps: 1e-3, momentum: 0.1 };
    const n = N * C * HW;
    const x = randn(n, next()), rm = randn(C, next()), rv = randu(C, 0.5, 2, next());
    const gamma = randu(C, 0.5, 1.5, next()), beta = randn(C, next());
    for (const affine of [false, true]) {
      await check(`batchNormEval ${N}x${C}x${HW} affine=${affine}`, [x, affine ? gamma : null, affine ? beta : null, rm, rv],
        [junk(n)], (b, [xs, gs, bs, r1, r2], [ys]) => b.batchNormEval(xs!, gs, bs, r1!, r2!, ys!, g));
    }
  }
});

test('batchNormBackward and batchNormEvalBackward, with and without parameter gradients', async () => {
  if (!gpu) return;
  for (const [N, C, HW] of BN_SHAPES) {
    const g: BatchNormGeom = { N, C, HW, eps: 1e-5, momentum: 0.1 };
    const n = N * C * HW;
    const x = randn(n, next()).map((v) => 1 + 2 * v), dy = randn(n, next());
    const gamma = randu(C, 0.5, 1.5, next());
    // saved statistics as the forward pass would produce them
    const mean = new Float32Array(C), invStd = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0, ss = 0;
      for (let k = 0; k < N * HW; k++) s += x[(Math.floor(k / HW) * C + c) * HW + (k % HW)];
      const m = s / (N * HW);
      for (let k = 0; k < N * HW; k++) ss += (x[(Math.floor(k / HW) * C + c) * HW + (k % HW)] - m) ** 2;
      mean[c] = m;
      invStd[c] = 1 / Math.sqrt(ss / (N * HW) + g.eps);
    }
    const rm = randn(C, next()), rv = randu(C, 0.5, 2, next());
    const gradSets: [boolean, boolean][] = [[false, false], [true, true], [true, false], [false, true]];
    for (const affine of [false, true]) {
      for (const [wantG, wantB] of gradSets) {
        const label = `${N}x${C}x${HW} affine=${affine} dgamma=${wantG} dbeta=${wantB}`;
        await check(`batchNormBackward ${label}`, [dy, x, affine ? gamma : null, mean, invStd],
          [junk(n), wantG ? junk(C) : null, wantB ? junk(C) : null],
          (b, [d, xs, gs, m, s], [dxs, dg, db]) => b.batchNormBackward(d!, xs!, gs, m!, s!, dxs!, dg, db, g), 1e-4);
        await check(`batchNormEvalBackward ${label}`, [dy, x, affine ? gamma : null, rm, rv],
          [junk(n), wantG ? junk(C) : null, wantB ? junk(C) : null],
          (b, [d, xs, gs, m, v], [dxs, dg, db]) => b.batchNormEvalBackward(d!, xs!, gs, m!, v!, dxs!, dg, db, g), 1e-4);
      }
    }
  }
});

// ---- dense --------------------------------------------------------------------------------

test('matmul with every transpose combination', async () => {
  if (!gpu) return;
  // untransposed a runs on the implicit-GEMM core (DENSE): the NB201 classifier (64x64 -> 10), 8
  // output channels per invocation with a partial column tile (9 rows), one row, a wide layer
  const shapes = [[5, 7, 3], [33, 17, 70], [4, 6, 0], [64, 10, 64], [9, 16, 8], [1, 1, 1], [70, 1000, 128]];
  // forced onto the core (switches.linearOnGemmCore: its rule keeps batches under 512 off it), and by the rule
  for (const subgroups of [true, false]) {
    switches.subgroups = subgroups;
    switches.linearOnGemmCore = true;
    try {
      for (const [M, N, K] of subgroups ? shapes : shapes.slice(3, 5)) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a = randn(M * K, next()), b = randn(K * N, next());
            await check(`matmul ${M}x${N}x${K} tA=${transA} tB=${transB}${subgroups ? '' : ' portable'}`, [a, b], [junk(M * N)],
              (be, [as, bs], [o]) => be.matmul(as!, bs!, o!, { M, N, K, transA, transB }));
          }
        }
      }
    } finally {
      switches.subgroups = true;
      switches.linearOnGemmCore = undefined;
    }
  }
  for (const [M, N, K] of [[600, 24, 40], [5, 7, 3]]) {
    const a = randn(M * K, next()), b = randn(K * N, next());
    await check(`matmul ${M}x${N}x${K} (rule)`, [a, b], [junk(M * N)],
      (be, [as, bs], [o]) => be.matmul(as!, bs!, o!, { M, N, K, transA: false, transB: true }));
  }
});

test('addRowBias and columnSum', async () => {
  if (!gpu) return;
  for (const [rows, cols] of [[1, 1], [7, 5], [300, 3]]) {
    const x = randn(rows * cols, next()), b = randn(cols, next());
    await check(`addRowBias ${rows}x${cols}`, [x, b], [junk(rows * cols)],
      (be, [xs, bs], [o]) => be.addRowBias(xs!, bs!, o!, { rows, cols }));
    await check(`columnSum ${rows}x${cols}`, [x], [junk(cols)], (be, [xs], [o]) => be.columnSum(xs!, o!, { rows, cols }));
  }
});

test('bad geometry and short storages give errors naming the argument', async () => {
  if (!gpu) return;
  const g = conv(1, 4, 5, 5, 4, 3, 1, 1);
  const x = gpu.alloc(100), w = gpu.alloc(144), y = gpu.alloc(10);
  assert.throws(() => gpu!.conv2d(x, w, null, y, g), /conv2d: y holds 10 values, needs 100/);
  assert.throws(() => gpu!.conv2d(x, w, null, y, { ...g, OH: 4 }), /conv2d: output 4x5 does not match/);
  assert.throws(() => gpu!.conv2dWeightGrad(x, x, w, { ...g, groups: 3 }), /groups 3 must divide/);
  assert.throws(() => gpu!.pool2d(x, y, { ...pool('avg', 1, 4, 5, 5, 3, 1, 1), OW: 9 }), /pool2d: output 5x9/);
  for (const s of [x, w, y]) gpu.release(s);
});

test.run();
