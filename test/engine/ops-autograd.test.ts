// Every op's gradient rule, through the tensor API: autograd gradients vs central finite
// differences on the CPU reference backend, and forward+backward on WebGPU vs CPU (the same cases
// `node run.js selftest` runs, plus NB201-shaped ones).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { testBackends, assertClose } from '../helpers/backends.js';
import type { Backend } from '../../src/engine/backend.js';
import { OP_CASES, SPACE_SHAPE_CASES, runCase, finiteDifferenceCheck } from '../../src/selftest/cases.js';

let cpu: Backend, gpu: Backend | null;
test.before(async () => { const b = await testBackends(); cpu = b.cpu; gpu = b.gpu; });
test.after(() => { gpu?.dispose(); });

for (const c of OP_CASES) {
  test(`autograd vs finite differences (CPU): ${c.name}`, async () => {
    const { worst, where } = await finiteDifferenceCheck(cpu, c, 7);
    assert.ok(worst < (c.fdTol ?? 1e-2), `${c.name}: ${where}`);
  });
}

for (const c of [...OP_CASES, ...SPACE_SHAPE_CASES]) {
  test(`forward+backward WebGPU vs CPU: ${c.name}`, async () => {
    if (!gpu) return;
    const a = await runCase(cpu, c, 3);
    const b = await runCase(gpu, c, 3);
    const rtol = c.rtol ?? 1e-3, atol = c.atol ?? 1e-4;
    assertClose(b.output, a.output, rtol, atol, `${c.name} output`);
    a.grads.forEach((g, i) => assertClose(b.grads[i], g, rtol, atol, `${c.name} grad of input ${i}`));
  });
}

test.run();
