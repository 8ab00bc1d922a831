// `node run.js selftest [--device webgpu|wasm|cpu] [--threads N] [--quick] [--json]`
//   webgpu (default): names the adapter and the limits gmnas requested, runs every kernel forward
//                     and backward against the CPU reference, then one supernet training step on
//                     both backends; exit 1 on any failure, listing the failing kernels.
//   wasm:             the same kernel rows and supernet step for the wasm backend (Wasm SIMD kernels).
//   cpu:              checks the CPU reference itself: autograd gradients vs finite differences.
import { parseFlags, choiceFlag, UsageError } from './args.js';
import { CpuBackend } from '../engine/cpu/cpu-backend.js';
import { runSelftest, FAULT_KERNELS } from '../selftest/run.js';
import type { SelftestRow } from '../selftest/run.js';
import { OP_CASES, finiteDifferenceCheck } from '../selftest/cases.js';
import { adapterReport, formatAdapterReport } from '../selftest/adapter.js';
import { readThreadsFlag } from './common-flags.js';
import { describeBackend } from '../engine/select-backend.js';
import type { Backend } from '../engine/backend.js';

const HELP = `usage: node run.js selftest [--device webgpu|wasm|cpu] [--threads N] [--quick] [--json]
  --device webgpu   every WGSL kernel vs the CPU reference on this machine's adapter (default)
  --device wasm     every kernel of the wasm backend (Wasm SIMD on --threads threads) vs the CPU reference
  --device cpu      the CPU reference's gradients vs finite differences
  --quick           a representative subset (a few seconds)
  --json            one JSON line per row and a summary line, nothing else
  (test only) --inject-fault KERNEL   corrupt one kernel's output to prove a failure is caught`;

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

export async function selftestCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags('selftest', argv, {
    device: { type: 'string' }, threads: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    'inject-fault': { type: 'string' },
  });
  if (values.help) { console.log(HELP); return 0; }
  const device = choiceFlag(values, 'device', ['webgpu', 'wasm', 'cpu'] as const, 'webgpu');
  const threads = readThreadsFlag(values);
  const json = !!values.json, quick = !!values.quick;
  const fault = values['inject-fault'] as string | undefined;
  if (fault && !FAULT_KERNELS.includes(fault)) throw new UsageError(`--inject-fault ${fault}: expected one of ${FAULT_KERNELS.join(', ')}`);
  const cpu = new CpuBackend();
  const say = (s: string) => { if (!json) console.log(s); };

  if (device === 'cpu') {
    say('CPU reference backend: autograd gradients vs central finite differences');
    const failed: string[] = [];
    const cases = quick ? OP_CASES.filter((k) => k.quick) : OP_CASES;
    for (const c of cases) {
      const t0 = performance.now();
      const { worst, where } = await finiteDifferenceCheck(cpu, c, 7, quick ? 4 : 12);
      const tol = c.fdTol ?? 1e-2, pass = worst < tol;
      if (!pass) failed.push(`${c.name}: ${where}`);
      const row = { name: c.name, phase: 'gradient', maxRelErr: worst, tol, ms: performance.now() - t0, pass };
      if (json) console.log(JSON.stringify(row));
      else console.log(`${c.name.padEnd(34)} ${fmt(worst).padStart(8)}  tol ${fmt(tol)}  ${row.ms.toFixed(0).padStart(5)} ms  ${pass ? 'pass' : 'FAIL'}`);
    }
    if (json) console.log(JSON.stringify({ summary: true, device: 'cpu', passed: cases.length - failed.length, failed }));
    else console.log(failed.length ? `FAILED: ${failed.join('; ')}` : 'all gradient checks passed');
    return failed.length ? 1 : 0;
  }

  let gpu: Backend;
  try {
    if (device === 'wasm') {
      const { WasmBackend } = await import('../engine/wasm/wasm-backend.js');
      gpu = await WasmBackend.create({ threads });
    } else {
      const { WebGpuBackend } = await import('../engine/webgpu/webgpu-backend.js');
      gpu = await WebGpuBackend.create();
    }
  } catch (e) {
    if (device === 'wasm') {
      console.error(`selftest: the wasm backend cannot start here: ${(e as Error).message}`);
      return 1;
    }
    console.error(`selftest: no usable WebGPU adapter: ${(e as Error).message}\n` +
      'On Linux without a GPU install Mesa >= 23 lavapipe (README: "WebGPU without a GPU"), or run `selftest --device cpu`.');
    return 1;
  }
  try {
    const adapter = adapterReport(gpu);
    if (json) console.log(JSON.stringify({ adapter, mode: quick ? 'quick' : 'full', faultInjected: fault ?? null }));
    else if (adapter) for (const line of formatAdapterReport(adapter)) console.log(line);
    else say(`device: ${describeBackend(gpu)}`);
    if (fault) say(`(test-only fault injected into kernel '${fault}')`);
    say(`${quick ? 'quick' : 'full'} mode; errors are ${gpu.kind} vs the CPU reference; a row passes when every |Δ| <= atol + rtol·|cpu|\n`);
    say(`${'case'.padEnd(44)} ${'phase'.padEnd(8)} ${'shape'.padEnd(30)} ${'max abs'.padStart(8)} ${'max rel'.padStart(8)}  ${'tolerance'.padEnd(16)} ${'ms f+b'.padStart(7)}  result`);
    const onRow = (r: SelftestRow) => {
      if (json) { console.log(JSON.stringify(r)); return; }
      const tol = `r${fmt(r.rtol)} a${fmt(r.atol)}`;
      const ms = r.phase === 'backward' ? '' : r.ms.toFixed(1);
      console.log(`${r.name.slice(0, 44).padEnd(44)} ${r.phase.padEnd(8)} ${r.shape.slice(0, 30).padEnd(30)} ${fmt(r.maxAbs).padStart(8)} ${fmt(r.maxRel).padStart(8)}  ${tol.padEnd(16)} ${ms.padStart(7)}  ${r.pass ? 'pass' : 'FAIL'}`);
    };
    const report = await runSelftest(gpu, cpu, { quick, faultKernel: fault, onRow });
    const step = report.step;
    if (step) {
      if (json) console.log(JSON.stringify({ supernetStep: step }));
      else {
        const d = (a: number, b: number) => `|Δ| ${fmt(Math.abs(a - b))}`;
        console.log(`\nsupernet training step: ${step.shape}`);
        console.log(`  loss        cpu ${step.lossCpu.toFixed(6)}  ${gpu.kind} ${step.lossGpu.toFixed(6)}  ${d(step.lossCpu, step.lossGpu)}`);
        console.log(`  after SGD   cpu ${step.lossAfterCpu.toFixed(6)}  ${gpu.kind} ${step.lossAfterGpu.toFixed(6)}  ${d(step.lossAfterCpu, step.lossAfterGpu)}`);
        console.log(`  grad norm   cpu ${step.gradNormCpu.toFixed(6)}  ${gpu.kind} ${step.gradNormGpu.toFixed(6)}  ${d(step.gradNormCpu, step.gradNormGpu)}`);
        console.log(`  worst gradient element at ${fmt(step.worstGradExcess)} of its tolerance (${step.worstGradTensor}); ` +
          `rtol ${fmt(step.rtol)} on loss and norm; ${step.msCpu.toFixed(0)} ms cpu, ${step.msGpu.toFixed(0)} ms ${gpu.kind} — ${step.pass ? 'pass' : 'FAIL'}`);
      }
    }
    if (json) {
      console.log(JSON.stringify({ summary: true, device: gpu.kind, adapter: gpu.description, rows: report.rows.length, passed: report.passed,
        failed: report.failed, failedKernels: report.failedKernels }));
    } else if (report.failed.length) {
      console.log(`\nFAILED (${report.failed.length}):\n  ${report.failed.join('\n  ')}` +
        (report.failedKernels.length ? `\nfailing kernels: ${report.failedKernels.join(', ')}` : ''));
    } else {
      console.log(`\nall ${report.rows.length} kernel checks and the supernet step passed on ${gpu.description}`);
    }
    return report.failed.length ? 1 : 0;
  } finally {
    gpu.dispose();
  }
}
