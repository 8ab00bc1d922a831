#!/usr/bin/env node
// Runs every built uvu test file (dist/test/**/*.test.js) in its own Node process — so a WebGPU
// device, a worker pool or a crash in one file cannot leak into another — and prints the totals.
// The last line is always `N passed, N failed, N skipped` (CI reads it; skipped: uvu's test.skip). Exit status 1 when anything failed.
// Kernel autotuning is off (GMNAS_AUTOTUNE=0) unless the environment says otherwise: tuning would time
// variants in every WebGPU training test and write the user's cache file; the autotune tests turn it
// on for their own backends.
//   node test/run.mjs [filter...]   only files whose path contains one of the filters
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);

function walk(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(join(root, 'dist/test')).sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0, failed = 0, skipped = 0;
const failures = [];
for (const file of files) {
  const rel = relative(root, file);
  const t0 = Date.now();
  const { code, out } = await new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      cwd: root, env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', GMNAS_AUTOTUNE: process.env.GMNAS_AUTOTUNE ?? '0' },
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    child.on('close', (code) => resolve({ code, out }));
  });
  const text = strip(out);
  // uvu prints "  Total:     N" and "  Passed:    M" once per suite run.
  let total = 0, ok = 0, skip = 0;
  for (const m of text.matchAll(/Total:\s+(\d+)/g)) total += Number(m[1]);
  for (const m of text.matchAll(/Passed:\s+(\d+)/g)) ok += Number(m[1]);
  for (const m of text.matchAll(/Skipped:\s+(\d+)/g)) skip += Number(m[1]);
  let bad = total - ok; // uvu's Total leaves the skipped tests out
  if (code !== 0 && bad === 0) bad = 1; // a crash or an exit code without a failed assertion still fails
  passed += ok; failed += bad; skipped += skip;
  if (bad > 0) failures.push(rel);
  console.log(`--- ${rel}: ${ok} passed, ${bad} failed${skip ? `, ${skip} skipped` : ''} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
if (files.length === 0) { console.log('no test files found under dist/test'); failed += 1; }
if (failures.length) console.log(`failing files:\n  ${failures.join('\n  ')}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
