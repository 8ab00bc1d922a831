// Bench (a) of issue 5: ReLU → conv forward + backward (input gradient and weight gradient) at the
// NB201 stage shapes, gmnas against tfjs-backend-webgpu 4.22 in the same process, on the same Dawn
// GPU object and therefore the same adapter (each engine opens its own device on it).
//
// Both engines run the same five steps — relu(x), y = conv(relu(x), w), then from a given dy the
// gradients dx (through the ReLU) and dw — each in its native, fastest layout: gmnas NCHW through
// its autograd (which may fuse the ReLU into the convolution kernels), tfjs NHWC (its default) with
// the kernels its gradient rules call: Conv2DBackpropInput, Conv2DBackpropFilter and ReLU's
// dy·step(x). tfjs's Node bundle registers no gradients, so they are called directly instead of
// through tf.grads; the kernels are the same. Timing: one warm-up call (compiles), then `reps`
// calls each followed by a full device sync; the figure is the median.
import type { Backend } from '../src/engine/backend.js';
import { Tensor, tidy, backward, relu, conv2d } from '../src/engine/index.js';

export interface ConvCase { name: string; C: number; S: number; k: number }

export const CONV_CASES: ConvCase[] = [16, 32, 64].flatMap((C, i) => {
  const S = 32 >> i;
  return [3, 1].map((k) => ({ name: `conv${k}x${k}-c${C}-${S}-fwdbwd`, C, S, k }));
});

export function values(n: number, f: (i: number) => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One warm-up call of `step` (compiles), then the median ms of `reps` calls each followed by `sync`. */
export async function medianSyncedMs(step: () => void, sync: () => Promise<void>, reps: number): Promise<number> {
  step();
  await sync();
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    step();
    await sync();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export async function gmnasConvFwdBwd(be: Backend, c: ConvCase, N: number, reps: number): Promise<number> {
  const { C, S, k } = c;
  const x = Tensor.fromArray(be, values(N * C * S * S, (i) => Math.sin(i * 0.37)), [N, C, S, S]).param();
  const w = Tensor.fromArray(be, values(C * C * k * k, (i) => Math.cos(i) * 0.1), [C, C, k, k]).param();
  const dy = Tensor.fromArray(be, values(N * C * S * S, (i) => Math.cos(i * 0.11)), [N, C, S, S]);
  const step = (): void => tidy(() => {
    backward(conv2d(relu(x), w, null, { padding: (k - 1) / 2 }), dy);
    x.grad?.dispose(); x.grad = null; w.grad?.dispose(); w.grad = null;
  });
  const ms = await medianSyncedMs(step, () => be.sync(), reps);
  x.dispose(); w.dispose(); dy.dispose();
  return ms;
}

/** tfjs-core + tfjs-backend-webgpu loaded on `navigator.gpu`, or the reason they cannot run. */
export interface TfjsHandle {
  tf: typeof import('@tensorflow/tfjs-core');
  sync(): Promise<void>;
  adapter: string;
}

export async function loadTfjs(): Promise<TfjsHandle | string> {
  let tf: typeof import('@tensorflow/tfjs-core');
  try {
    tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    return `tfjs is not installed (${(e as Error).message.split('\n')[0]}); npm install the devDependencies`;
  }
  try {
    tf.env().set('WEBGPU_CPU_FORWARD', false); // never run small ops on the CPU backend
    if (!(await tf.setBackend('webgpu'))) return 'tf.setBackend("webgpu") returned false';
    await tf.ready();
  } catch (e) {
    return `tfjs webgpu backend failed to start: ${(e as Error).message}`;
  }
  const backend = tf.backend() as unknown as {
    device: GPUDevice; submitQueue(): void; endComputePassEncoder(): void; adapterInfo?: { vendor?: string; architecture?: string };
  };
  const info = backend.adapterInfo;
  return {
    tf,
    adapter: info ? `${info.vendor ?? '?'} / ${info.architecture ?? '?'}` : 'unknown',
    async sync() {
      // what tfjs itself does before a readback: close its open pass, submit
      backend.endComputePassEncoder();
      backend.submitQueue();
      await backend.device.queue.onSubmittedWorkDone();
    },
  };
}

export async function tfjsConvFwdBwd(h: TfjsHandle, c: ConvCase, N: number, reps: number): Promise<number> {
  const { tf } = h;
  const { C, S, k } = c;
  const x = tf.tensor4d(values(N * S * S * C, (i) => Math.sin(i * 0.37)), [N, S, S, C]);
  const w = tf.tensor4d(values(k * k * C * C, (i) => Math.cos(i) * 0.1), [k, k, C, C]);
  const dy = tf.tensor4d(values(N * S * S * C, (i) => Math.cos(i * 0.11)), [N, S, S, C]);
  const step = (): void => {
    tf.tidy(() => {
      const xr = tf.relu(x);
      const y = tf.conv2d(xr, w, 1, 'same');
      // what tfjs-core's Conv2D gradient rule runs:
      const dxr = tf.conv2dTranspose(dy, w, [N, S, S, C], 1, 'same');           // Conv2DBackpropInput
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x: xr, dy },
        { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, C, C] }) as import('@tensorflow/tfjs-core').Tensor;
      // and ReLU's rule: dy * step(x)
      const dx = tf.mul(dxr, tf.step(x));
      return [y, dx, dw];
    }).forEach((t) => t.dispose());
  };
  const ms = await medianSyncedMs(step, () => h.sync(), reps);
  x.dispose(); w.dispose(); dy.dispose();
  return ms;
}
