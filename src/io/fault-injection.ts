// Deterministic fault injection for the fault-injection tests (test/faults/): never active unless the
// environment variable GMNAS_FAULT is set. Faults fire at an atomic write (src/io/fs.ts), counted per
// thread among the writes whose path contains a pattern — a point of the run's own sequence of
// writes, not a time, so a test hits the same point on every machine.
//
//   GMNAS_FAULT=<action>:<pattern>:<k>[:<phase>][:once][:worker],…
//     action   kill    SIGKILL the whole process (a worker thread's kill takes the process too)
//              enospc  fail the write as a full disk would (the atomic write removes its temp file)
//              throw   throw an Error from the write (a worker's job fails; the pool retries it)
//              exit    process.exit(1) (in a worker thread: the thread dies mid-job)
//     pattern  a substring of the written path ('*': any write)
//     k        fire at the k-th matching write of this thread (1-based)
//     phase    mid (default): half the bytes are in the temp file; after: the file is renamed in place
//     once     fire only once per run folder (a marker file next to the written file records it)
//     worker   count and fire only in worker threads (the leaf pool), not in the main thread
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

type Action = 'kill' | 'enospc' | 'throw' | 'exit';
interface Fault { action: Action; pattern: string; k: number; phase: 'mid' | 'after'; once: boolean; worker: boolean; seen: number }

let faults: Fault[] | null = null;

function parse(spec: string): Fault[] {
  return spec.split(',').filter((s) => s.trim()).map((s) => {
    const [action, pattern, k, ...rest] = s.trim().split(':');
    if (!['kill', 'enospc', 'throw', 'exit'].includes(action) || !pattern || !/^\d+$/.test(k ?? '')) {
      throw new Error(`GMNAS_FAULT: '${s}' is not <kill|enospc|throw|exit>:<pattern>:<k>[:mid|after][:once][:worker]`);
    }
    return { action: action as Action, pattern, k: Number(k), phase: rest.includes('after') ? 'after' : 'mid', once: rest.includes('once'), worker: rest.includes('worker'), seen: 0 };
  });
}

/** The fault (if any) that fires at this write of `path`, in `phase`; counts the write once (at 'mid'). */
export function faultAt(path: string, phase: 'mid' | 'after'): Fault | null {
  if (faults === null) faults = process.env.GMNAS_FAULT ? parse(process.env.GMNAS_FAULT) : [];
  for (const f of faults) {
    if (f.pattern !== '*' && !path.includes(f.pattern)) continue;
    if (f.worker && isMainThread) continue;
    if (phase === 'mid') f.seen++;
    if (f.seen !== f.k || f.phase !== phase) continue;
    if (f.once) {
      const marker = join(dirname(path), `.gmnas-fault-${f.action}-${f.pattern.replace(/[^\w.-]/g, '_')}-${f.k}`);
      if (existsSync(marker)) continue;
      writeFileSync(marker, '');
    }
    return f;
  }
  return null;
}

/** Carry out a fault (kill and exit do not return). */
export function fire(f: Fault, path: string): void {
  if (f.action === 'kill') process.kill(process.pid, 'SIGKILL');
  if (f.action === 'exit') process.exit(1);
  if (f.action === 'enospc') throw Object.assign(new Error('ENOSPC: no space left on device (injected by GMNAS_FAULT)'), { code: 'ENOSPC' });
  throw new Error(`injected failure writing ${path} (GMNAS_FAULT)`);
}
