// Wall times of user-facing tools, measured here and not in tests (tests assert behaviour, never
// speed): generating the built-in synthetic dataset, and `run.js selftest --quick` on the WebGPU
// adapter (a child process, as a user runs it: start-up, pipeline compiles, every quick check).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from '../src/data/synthetic.js';

export interface ToolRow { bench: string; ms: number; ok: boolean; note?: string }

export function benchSyntheticGeneration(): ToolRow {
  const t0 = performance.now();
  generateSynthetic({ split: 'train' });
  generateSynthetic({ split: 'test' });
  return { bench: 'synthetic-generate-5000+1000', ms: Math.round(performance.now() - t0), ok: true };
}

export function benchQuickSelftest(): Promise<ToolRow> {
  // dist/bench/tools.js -> the repository's run.js
  const runJs = fileURLToPath(new URL('../../run.js', import.meta.url));
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [runJs, 'selftest', '--quick', '--device', 'webgpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer): void => { tail = (tail + d.toString()).slice(-400); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('close', (code) => {
      const ms = Math.round(performance.now() - t0);
      resolve(code === 0 ? { bench: 'selftest-quick-webgpu', ms, ok: true }
        : { bench: 'selftest-quick-webgpu', ms, ok: false, note: `exit ${code}: ${tail.trim().split('\n').pop()}` });
    });
  });
}
