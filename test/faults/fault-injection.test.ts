// Fault injection on a tiny search (CPU backend, tiny preset, 128 synthetic images), as a user's
// machine would fail it. Faults fire at points of the run's own sequence of atomic writes
// (GMNAS_FAULT, src/io/fault-injection.ts) or through the backend — never at a time — so every run
// hits the same points:
//   * kill -9 at 10+ seeded points (mid-write and just after a write; checkpoints and state.json; in
//     the main thread and inside the pool's leaf workers), each followed by --resume: the final
//     result.json equals the uninterrupted run's (timings and timestamps aside), and every killed
//     folder verifies clean;
//   * a full disk while writing a checkpoint: a clear error, the previous checkpoint survives, the
//     run resumes to the same result; a truncated checkpoint is refused naming the file;
//   * a leaf worker that throws after a write (retried, then succeeds) or dies mid-write on every
//     try (reported in failedLeaves, the other leaves finish);
//   * the device lost mid-epoch: a clear error, no hang, and the run resumes to the same result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/data/rng.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import type { Backend } from '../../src/engine/backend.js';
import { runSearch, type SearchResult } from '../../src/nas/search.js';
import { FileStore } from '../../src/nas/file-store.js';
import { loadSearchData } from '../../src/nas/search-data.js';
import { verifyRunFolder } from '../../src/nas/verify-run.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'gmnas-faults-'));
const TINY = ['--space', 'nb201', '--preset', 'tiny', '--device', 'cpu', '--dataset', 'synthetic', '--synthetic-size', '128', '--seed', '1', '--quiet'];

interface Run { code: number | null; signal: string | null; out: string; err: string }
function cli(args: string[], fault?: string): Run {
  const env: Record<string, string | undefined> = { ...process.env, GMNAS_DEBUG: '', GMNAS_FAULT: fault };
  if (!fault) delete env.GMNAS_FAULT;
  const r = spawnSync(process.execPath, [RUN_JS, ...args], { encoding: 'utf8', env, timeout: 240_000 });
  if (r.error) throw new Error(`${args.join(' ')}: ${r.error.message} (a hang?)`);
  return { code: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

/** result.json without what legitimately differs between runs (times, timestamps, the checksum). */
function comparable(dir: string): unknown {
  const drop = new Set(['seconds', 'timings', 'startedAt', 'finishedAt', 'sha256']);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== 'object') return v;
    return Object.fromEntries(Object.entries(v).filter(([k]) => !drop.has(k)).map(([k, x]) => [k, strip(x)]));
  };
  return strip(JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')));
}

function assertClean(dir: string, label: string): void {
  const errors = verifyRunFolder(dir).filter((f) => f.level === 'error');
  assert.equal(errors, [], `${label}: verify found ${JSON.stringify(errors)}`);
}

let baseline: unknown;
let baselineResult: SearchResult;
test.before(() => {
  const dir = join(root, 'baseline');
  const r = cli([...TINY, '--workers', '1', '--out', dir]);
  assert.is(r.code, 0, r.err);
  baseline = comparable(dir);
  baselineResult = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as SearchResult;
});

/** Kill at each point in turn (each kill in a fresh resume), then resume to the end. */
function killChain(name: string, workers: string, points: string[]): number {
  const dir = join(root, name);
  let kills = 0;
  for (const [i, point] of points.entries()) {
    const r = cli(i === 0 ? [...TINY, '--workers', workers, '--out', dir] : ['--resume', dir, '--device', 'cpu', '--workers', workers, '--quiet'], point);
    if (r.signal !== 'SIGKILL') {
      // the run ended before reaching this point; it must have ended well
      assert.is(r.code, 0, `${name} ${point}: ${r.err}`);
      break;
    }
    kills++;
    assertClean(dir, `${name} after kill ${point}`);
  }
  const last = cli(['--resume', dir, '--device', 'cpu', '--workers', workers, '--quiet']);
  assert.is(last.code, 0, `${name}: final resume: ${last.err}`);
  assert.equal(comparable(dir), baseline, `${name}: the resumed result differs from the uninterrupted run`);
  assertClean(dir, `${name} finished`);
  return kills;
}

test('kill -9 at 10 seeded points (mid-write and after writes, checkpoints and state) and resume: the uninterrupted result', () => {
  const rng = new Rng(19);
  const points = Array.from({ length: 10 }, () => {
    const pattern = rng.int(3) === 0 ? 'safetensors' : '*';
    return `kill:${pattern}:${2 + rng.int(2)}:${rng.int(2) ? 'mid' : 'after'}`;
  });
  const kills = killChain('kills', '1', points);
  assert.ok(kills >= 10, `only ${kills} of the kill points were reached`);
});

test('kill -9 inside the pool\'s leaf workers (mid-write and after) and resume: the uninterrupted result', () => {
  const kills = killChain('pool-kills', '2', ['kill:node-3.safetensors:1:mid:worker', 'kill:node-5.safetensors:1:after:worker', 'kill:node-6.safetensors:1:mid:worker']);
  // two workers train leaves side by side: a leaf may finish in one process before the kill of another
  // takes it down, and then its own kill point is never reached (seen on CI); the resumed result must
  // equal the uninterrupted run either way (killChain checks that)
  assert.ok(kills >= 2, `only ${kills} of the 3 kill points were reached`);
});

test('a full disk while writing a checkpoint: clear error, the previous checkpoint survives, a truncated one is refused, the run resumes', () => {
  const dir = join(root, 'enospc');
  const file = join(dir, 'checkpoints', 'node-2.safetensors');
  // node-2's first write is its spawn at the root's split, the second its first epoch
  const r = cli([...TINY, '--workers', '1', '--out', dir], 'enospc:node-2.safetensors:2');
  assert.is(r.code, 1);
  assert.match(r.err, new RegExp(`cannot write ${file.replace(/[.]/g, '\\.')}: ENOSPC`));
  assert.not.match(r.err, /^\s+at /m, 'a stack trace');
  assertClean(dir, 'after ENOSPC');
  // the surviving checkpoint is the spawn (epoch 1), complete and sealed
  const f = verifyRunFolder(dir).find((x) => x.file === 'checkpoints/node-2.safetensors')!;
  assert.match(f.message, /SHA-256 matches/);
  // truncate it: the resume stops and names it
  copyFileSync(file, `${file}.keep`);
  writeFileSync(file, readFileSync(file).subarray(0, 1000));
  const t = cli(['--resume', dir, '--device', 'cpu', '--quiet']);
  assert.is(t.code, 1);
  assert.ok(t.err.includes(file), t.err);
  assert.match(t.err, /--retrain-missing/);
  copyFileSync(`${file}.keep`, file);
  rmSync(`${file}.keep`);
  const ok = cli(['--resume', dir, '--device', 'cpu', '--workers', '1', '--quiet']);
  assert.is(ok.code, 0, ok.err);
  assert.equal(comparable(dir), baseline);
});

test('a leaf worker that throws mid-leaf is retried and the leaf finishes; one that dies on every try is reported', () => {
  const dir = join(root, 'worker-throw');
  const r = cli([...TINY, '--workers', '2', '--out', dir, '--quiet'], 'throw:node-4.safetensors:1:after:once:worker');
  assert.is(r.code, 0, r.err);
  assert.equal(comparable(dir), baseline);
  const dir2 = join(root, 'worker-exit');
  const e = cli([...TINY, '--workers', '2', '--out', dir2, '--quiet'], 'exit:node-5.safetensors:1:mid:worker');
  assert.is(e.code, 1, e.err);
  const res = JSON.parse(readFileSync(join(dir2, 'result.json'), 'utf8')) as SearchResult;
  assert.equal(res.failedLeaves.map((x) => x.node), [5]);
  assert.equal(res.leaves.map((l) => l.node), [3, 4, 6]);
  assert.match(e.out, /FAILED leaves: node 5/);
  assertClean(dir2, 'after a failed leaf');
});

/** A CPU backend whose device is lost after `reads` reads (every later call fails as a lost device does). */
function losingBackend(reads: number): Backend {
  const be = new CpuBackend();
  let left = reads;
  return new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || prop === 'dispose') return v;
      return (...args: unknown[]) => {
        if (left <= 0) throw new Error('WebGPU device lost (unknown): injected by the test');
        if (prop === 'read') left--;
        return v.apply(target, args);
      };
    },
  });
}

test('the device lost mid-epoch: a clear error naming it, no hang, and the run resumes to the same result', async () => {
  const dir = join(root, 'device-lost');
  const config = baselineResult.config;
  const data = loadSearchData(config);
  let message = '';
  try {
    await runSearch({ config, backend: losingBackend(40), data, store: new FileStore(dir), deviceName: 'cpu' });
  } catch (e) {
    message = (e as Error).message;
  }
  assert.match(message, /device lost/);
  assertClean(dir, 'after the device was lost');
  const r = cli(['--resume', dir, '--device', 'cpu', '--workers', '1', '--quiet']);
  assert.is(r.code, 0, r.err);
  const a = comparable(dir) as Record<string, unknown>, b = baseline as Record<string, unknown>;
  assert.equal({ ...a, device: null }, { ...b, device: null });
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
