// The anchor of issue [wasm]: tfjs-backend-wasm 4.22 (XNNPACK, SIMD, one thread) and the gmnas wasm
// backend on one thread, in this process, on the NB201 stage convolutions (N64, 3×3 pad 1 and 1×1):
// forward and input gradient (tfjs has no Conv2DBackpropFilter on wasm, so no weight gradient).
// Each engine in its own layout (tfjs NHWC, gmnas NCHW), no fused ReLU (tfjs has none). Both run
// synchronously on the calling thread, so the figure is CPU time per call (process.cpuUsage), the
// best of `rounds` rounds of `reps` calls, rounds alternating between the engines.
import type { ConvGeom } from '../src/engine/backend.js';
import { WasmBackend } from '../src/engine/wasm/wasm-backend.js';
import { values } from './tfjs-conv.js';

export interface TfjsWasmRow { bench: string; shape: string; gmnas_ms: number; tfjs_ms: number; gmnas_gflops: number; tfjs_gflops: number }

type Tf = typeof import('@tensorflow/tfjs-core');

/** tfjs-core with tfjs-backend-wasm (SIMD, one thread), or the reason it cannot run. */
export async function loadTfjsWasm(): Promise<Tf | string> {
  let tf: Tf;
  try {
    tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    return `tfjs-backend-wasm is not installed (${(e as Error).message.split('\n')[0]}); npm install the devDependencies`;
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // one thread, like the gmnas side
  if (!(await tf.setBackend('wasm'))) return 'tf.setBackend("wasm") returned false';
  await tf.ready();
  if (!tf.env().getBool('WASM_HAS_SIMD_SUPPORT')) return 'tfjs-backend-wasm runs without SIMD here; no comparison';
  return tf;
}

const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };

function bestOf(rounds: number, reps: number, fns: (() => void)[]): number[] {
  const best = fns.map(() => Infinity);
  for (const f of fns) f(); // warm-up
  for (let r = 0; r < rounds; r++) {
    fns.forEach((f, i) => {
      const t0 = cpuMs();
      for (let k = 0; k < reps; k++) f();
      best[i] = Math.min(best[i], (cpuMs() - t0) / reps);
    });
  }
  return best;
}

export async function benchTfjsWasm(tf: Tf, N: number, reps: number, rounds = 3): Promise<TfjsWasmRow[]> {
  const be = await WasmBackend.create({ threads: 1 });
  const rows: TfjsWasmRow[] = [];
  try {
    for (const [C, S] of [[16, 32], [32, 16], [64, 8]]) {
      for (const k of [3, 1]) {
        const p = (k - 1) / 2, n = N * C * S * S;
        const g: ConvGeom = { N, Cin: C, H: S, W: S, Cout: C, KH: k, KW: k, OH: S, OW: S, strideH: 1, strideW: 1, padH: p, padW: p,
          dilH: 1, dilW: 1, groups: 1 };
        const xv = values(n, (i) => Math.sin(i * 0.37)), wv = values(C * C * k * k, (i) => Math.cos(i) * 0.1);
        const x = be.upload(xv), w = be.upload(wv), y = be.alloc(n), dx = be.alloc(n);
        const tx = tf.tensor4d(xv, [N, S, S, C]), tw = tf.tensor4d(wv, [k, k, C, C]), tdy = tf.tensor4d(xv, [N, S, S, C]);
        const tfFwd = (): void => { tf.conv2d(tx, tw, 1, 'same').dispose(); };
        const tfDgrad = (): void => { tf.conv2dTranspose(tdy, tw, [N, S, S, C], 1, 'same').dispose(); }; // Conv2DBackpropInput
        const [gf, tff] = bestOf(rounds, reps, [() => be.conv2d(x, w, null, y, g), tfFwd]);
        const [gd, tfd] = bestOf(rounds, reps, [() => be.conv2dInputGrad(x, w, dx, g), tfDgrad]);
        const flops = 2 * N * C * C * k * k * S * S, gfl = (ms: number): number => Math.round(flops / ms / 1e5) / 10;
        const r2 = (v: number): number => Math.round(v * 100) / 100;
        const shape = `N${N} C${C} ${S}x${S}`;
        rows.push({ bench: `conv${k}x${k}-fwd`, shape, gmnas_ms: r2(gf), tfjs_ms: r2(tff), gmnas_gflops: gfl(gf), tfjs_gflops: gfl(tff) });
        rows.push({ bench: `conv${k}x${k}-dgrad`, shape, gmnas_ms: r2(gd), tfjs_ms: r2(tfd), gmnas_gflops: gfl(gd), tfjs_gflops: gfl(tfd) });
        for (const s of [x, w, y, dx]) be.release(s);
        for (const t of [tx, tw, tdy]) t.dispose();
      }
    }
  } finally {
    be.dispose();
  }
  return rows;
}
