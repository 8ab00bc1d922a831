// The run-time shader variants (src/engine/webgpu/kernels/shader-variants.ts): template expansion
// and subgroup-flavour blocks, checked on literal sources (no device needed). The WGSL they make is
// exercised against the CPU reference by the kernel tests (webgpu-spatial, fused-kernels, autotune).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyFlags, expandTemplate } from '../../src/engine/webgpu/kernels/shader-variants.js';

test('expandTemplate repeats //#each-term blocks and evaluates {expr} per term', () => {
  const src = ['a {K}', '//#each-term', 'x{k} at {2*k+1} of {K}', '//#end', 'b'].join('\n');
  assert.is(expandTemplate(src, 2), ['a 2', 'x0 at 1 of 2', 'x1 at 3 of 2', 'b'].join('\n'));
  assert.throws(() => expandTemplate('//#each-term\nx', 1), /without \/\/#end/);
});

test('applyFlags keeps the //#if or the //#else side, nested, and drops the directives', () => {
  const src = ['top', '//#if A', 'a1', '//#if B', 'ab', '//#else', 'a-not-b', '//#endif', '//#else', 'not-a', '//#endif', 'end'].join('\n');
  assert.is(applyFlags(src, { A: true, B: true }), ['top', 'a1', 'ab', 'end'].join('\n'));
  assert.is(applyFlags(src, { A: true, B: false }), ['top', 'a1', 'a-not-b', 'end'].join('\n'));
  assert.is(applyFlags(src, { A: false, B: true }), ['top', 'not-a', 'end'].join('\n'));
  assert.throws(() => applyFlags('//#if C\nx\n//#endif', { A: true }), /no such flag/);
  assert.throws(() => applyFlags('//#if A\nx', { A: true }), /without \/\/#endif/);
  assert.throws(() => applyFlags('x\n//#endif', { A: true }), /without \/\/#if/);
  assert.throws(() => applyFlags('//#else', { A: true }), /without \/\/#if/);
});

test.run();
