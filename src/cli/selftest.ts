// `node run.js selftest [--device webgpu|cpu] [--quick] [--json]`
//   webgpu (default): names the adapter and the limits gmnas requested, runs every kernel forward
//                     and backward against the CPU reference, then one supernet training step on
//                     both backends; exit 1 on any failure, listing the failing kernels.
//   cpu:              checks the CPU reference itself: autograd gradients vs finite differences.
import { parseFlags, choiceFlag, UsageError } from './args.js';
import { CpuBackend } from '../engine/cpu/cpu-backend.js';
import { runSelftest, FAULT_KERNELS } from '../selftest/run.js';
import type { SelftestRow } from '../selftest/run.js';
import { OP_CASES, finiteDifferenceCheck } from '../selftest/cases.js';

const HELP = `usage: node run.js selftest [--device webgpu|cpu] [--quick] [--json]
  --device webgpu   every WGSL kernel vs the CPU reference on this machine's adapter (default)
  --device cpu      the CPU reference's gradients vs finite differences
  --quick           a representative subset (a few seconds)
  --json            one JSON line per row and a summary line, nothing else`;

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toExponential(1) : String(x);
}

export async function selftestCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags('selftest', argv, {
    device: { type: 'string' }, quick: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    'inject-fault': { type: 'string' },
  });
  if (values.help) { console.log(HELP); return 0; }
  const device = choiceFlag(values, 'device', ['webgpu', 'cpu'] as const, 'webgpu');
  const json = !!values.json, quick = !!values.quick;
  const fault = values['inject-fault'] as string | undefined;
  if (fault && !FAULT_KERNELS.includes(fault)) throw new UsageError(`--inject-fault ${fault}: expected one of ${FAULT_KERNELS.join(', ')}`);
  const cpu = new CpuBackend();
  const say = (s: string) => { if (!json) console.log(s); };

  if (device === 'cpu') {
    say('CPU reference backend: autograd gradients vs central finite differences');
    const failed: string[] = [];
    for (const c of quick ? OP_CASES.filter((k) => k.quick) : OP_CASES) {
      const t0 = performance.now();
      const { worst, where } = await finiteDifferenceCheck(cpu, c, 7, quick ? 4 : 12);
      const tol = c.fdTol ?? 1e-2, pass = worst < tol;
      if (!pass) failed.push(`${c.name}: ${where}`);
      const row = { name: c.name, phase: 'gradient', maxRelErr: worst, tol, ms: performance.now() - t0, pass };
      if (json) console.log(JSON.stringify(row));
      else console.log(`${c.name.padEnd(34)} ${fmt(worst).padStart(8)}  tol ${fmt(tol)}  ${row.ms.toFixed(0).padStart(5)} ms  ${pass ? 'pass' : 'FAIL'}`);
    }
    if (json) console.log(JSON.stringify({ summary: true, device: 'cpu', passed: OP_CASES.length - failed.length, failed }));
    else console.log(failed.length ? `FAILED: ${failed.join('; ')}` : 'all gradient checks passed');
    return failed.length ? 1 : 0;
  }

  const { WebGpuBackend } = await import('../engine/webgpu/webgpu-backend.js');
  let gpu;
  try {
    gpu = await WebGpuBackend.create();
  } catch (e) {
    console.error(`selftest: no usable WebGPU adapter: ${(e as Error).message}\n` +
      'On Linux without a GPU install Mesa >= 23 lavapipe (README: "WebGPU without a GPU"), or run `selftest --device cpu`.');
    return 1;
  }
  try {
    say(`adapter: ${gpu.description}`);
    const limits = gpu.requestedLimits?.();
    if (limits) say(`limits requested: ${Object.entries(limits).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    if (json) console.log(JSON.stringify({ adapter: gpu.description, limits }));
    if (fault) say(`(test-only fault injected into kernel '${fault}')`);
    say(`${'case'.padEnd(34)} ${'phase'.padEnd(8)} ${'shape'.padEnd(28)} ${'max abs'.padStart(8)} ${'max rel'.padStart(8)}  tolerance         ms  result`);
    const onRow = (r: SelftestRow) => {
      if (json) { console.log(JSON.stringify(r)); return; }
      console.log(`${r.name.slice(0, 34).padEnd(34)} ${r.phase.padEnd(8)} ${r.shape.slice(0, 28).padEnd(28)} ${fmt(r.maxAbs).padStart(8)} ${fmt(r.maxRel).padStart(8)}  r${fmt(r.rtol)} a${fmt(r.atol)} ${r.ms.toFixed(1).padStart(7)}  ${r.pass ? 'pass' : 'FAIL'}`);
    };
    const report = await runSelftest(gpu, cpu, { quick, faultKernel: fault, onRow });
    const step = await supernetStepCheck(gpu, cpu);
    if (step) {
      if (json) console.log(JSON.stringify(step));
      else console.log(`supernet training step (${step.shape}): loss ${step.lossCpu.toFixed(6)} (cpu) vs ${step.lossGpu.toFixed(6)} (webgpu), ` +
        `grad norm ${step.gradNormCpu.toFixed(6)} vs ${step.gradNormGpu.toFixed(6)} — ${step.pass ? 'pass' : 'FAIL'}`);
      if (!step.pass) report.failed.push('supernet training step');
    }
    if (json) console.log(JSON.stringify({ summary: true, device: 'webgpu', adapter: gpu.description, passed: report.passed, failed: report.failed }));
    else if (report.failed.length) console.log(`\nFAILED (${report.failed.length}):\n  ${report.failed.join('\n  ')}`);
    else console.log(`\nall ${report.rows.length} checks passed on ${gpu.description}`);
    return report.failed.length ? 1 : 0;
  } finally {
    gpu.dispose();
  }
}

/** One training step of a small NB201 supernet on both backends; filled in by src/selftest/supernet-step.ts. */
async function supernetStepCheck(gpu: import('../engine/backend.js').Backend, cpu: CpuBackend) {
  const { supernetStepComparison } = await import('../selftest/supernet-step.js');
  return supernetStepComparison(gpu, cpu);
}
