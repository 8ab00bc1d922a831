// `node run.js --queue` with `node run.js worker` processes on a private redis-server, against a local
// run of the same seeded configuration (CPU backend): two workers on one queue, a worker killed with
// SIGKILL mid-leaf (stalled-job recovery, resumed from the leaf's last epoch checkpoint), a job that
// fails twice (failedLeaves), and a coordinator killed after queueing, Redis restarted (append-only
// persistence), and the coordinator resumed (it reattaches to its jobs; none runs twice). Every
// finished run must equal the local one: leaves (genotypes, scores, per-epoch losses) and final pick.
// A few-shot split (5 leaves, no GM scoring) keeps each run a few seconds.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { parseQueueUrl, bullConnection, QUEUE_NAME } from '../../src/pool/queue-connection.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', GMNAS_QUEUE_LOCK_MS: '1500' };
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-queue-search-'));
const CONFIG = ['--space', 'nb201', '--preset', 'tiny', '--method', 'fewshot', '--synthetic-size', '128',
  '--seed', '5'];
const LEAVES = 5;

interface Proc { child: ChildProcess; out: string; exited: Promise<number | null> }

function start(args: string[]): Proc {
  const child = spawn(process.execPath, [RUN_JS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (d) => { p.out += d; });
  child.stderr!.on('data', (d) => { p.out += d; });
  return p;
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const live: Proc[] = [];
async function worker(url: string): Promise<Proc> {
  const w = start(['worker', '--queue', url, '--device', 'cpu']);
  live.push(w);
  await until('a worker to start', () => /\bready\b/.test(w.out) || w.child.exitCode !== null);
  assert.is(w.child.exitCode, null, w.out);
  return w;
}
async function stopAll(): Promise<void> {
  for (const p of live.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** What must not differ between a local and a queued run (timings aside). */
function comparable(dir: string): unknown {
  const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  return {
    leaves: r.leaves.map((l: Record<string, any>) => ({ ...l, seconds: 0, history: l.history.map((h: Record<string, unknown>) => ({ ...h, seconds: 0 })) })),
    final: r.final, splits: r.splits, failed: r.failedLeaves,
  };
}
const jobsRun = (w: Proc): string[] => [...w.out.matchAll(/train-leaf node (\d+)/g)].map((m) => m[1]);

if (redisAvailable()) {
  let redis: TestRedis;
  let local: string;
  test.before(async () => {
    redis = await startRedis({ persistent: true });
    local = join(tmp, 'local');
    const r = spawnSync(process.execPath, [RUN_JS, ...CONFIG, '--device', 'cpu', '--workers', '1', '--quiet', '--out', local], { env, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
  });
  test.after(async () => {
    await stopAll();
    await redis?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('two workers on one queue: both take leaves, result.json equals the local run', async () => {
    const a = await worker(redis.url), b = await worker(redis.url);
    const out = join(tmp, 'two');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--out', out]);
    const code = await c.exited;
    assert.is(code, 0, c.out);
    assert.equal(comparable(out), comparable(local));
    assert.ok(jobsRun(a).length >= 1 && jobsRun(b).length >= 1, `one worker got every job:\n${a.out}\n${b.out}`);
    assert.is(jobsRun(a).length + jobsRun(b).length, LEAVES);
    // the shared store's checkpoints carry SHA-256 sidecars
    assert.ok(existsSync(join(out, 'checkpoints', 'node-1.safetensors.sha256')));
    await stopAll();
  });

  test('a worker killed with SIGKILL mid-leaf: another worker resumes the leaf; the result is unchanged', async () => {
    const victim = await worker(redis.url);
    const out = join(tmp, 'killed');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--out', out]);
    // wait until the victim has saved an epoch of its first leaf (the sidecar then lists a previous hash)
    await until('the victim to save an epoch', () => {
      const n = jobsRun(victim)[0];
      if (n === undefined) return false;
      const side = join(out, 'checkpoints', `node-${n}.safetensors.sha256`);
      return existsSync(side) && readFileSync(side, 'utf8').includes('(previous)');
    });
    const node = jobsRun(victim)[0];
    victim.child.kill('SIGKILL');
    await victim.exited;
    assert.not.match(victim.out, new RegExp(`leaf-${node}: done`));
    const rescuer = await worker(redis.url);
    const code = await c.exited;
    assert.is(code, 0, c.out);
    assert.ok(jobsRun(rescuer).includes(node), `the rescuer never ran leaf ${node}:\n${rescuer.out}`);
    assert.match(c.out, new RegExp(`leaf ${node}: its worker stopped answering`));
    assert.equal(comparable(out), comparable(local));
    await stopAll();
  });

  test('a job that fails twice is reported in failedLeaves with its error; the other leaves finish', async () => {
    const w = await worker(redis.url);
    const out = join(tmp, 'failing');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--inject-leaf-failure', '2', '--out', out]);
    const code = await c.exited;
    assert.is(code, 1, c.out);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(r.failedLeaves.map((f: { node: number }) => f.node), [2]);
    assert.match(r.failedLeaves[0].error, /injected failure of leaf 2/);
    assert.is(r.leaves.length, LEAVES - 1);
    assert.is(jobsRun(w).filter((n) => n === '2').length, 2, w.out);
    assert.match(w.out, /node 2 \(attempt 2\)/);
    await stopAll();
  });

  test('coordinator killed after queueing, Redis restarted, coordinator resumed: jobs kept, reattached, none run twice', async () => {
    const out = join(tmp, 'resumed');
    const target = parseQueueUrl(redis.url, {});
    const c1 = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--out', out]);
    live.push(c1);
    let queue = new Queue(QUEUE_NAME, { connection: bullConnection(target) });
    await until('the leaf jobs to be queued', () => /5 leaf job\(s\)/.test(c1.out));
    const waiting = async (): Promise<number> => (await queue.getJobCounts('waiting')).waiting;
    const t0 = Date.now();
    while (await waiting() < LEAVES) {
      if (Date.now() - t0 > 20_000) throw new Error(`the jobs never all arrived:\n${c1.out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    c1.child.kill('SIGKILL');
    await c1.exited;
    await queue.close();
    await redis.restart();
    queue = new Queue(QUEUE_NAME, { connection: bullConnection(target) });
    try {
      assert.is(await waiting(), LEAVES, 'Redis lost queued jobs across its restart');
    } finally {
      await queue.close();
    }
    const w = await worker(redis.url);
    const c2 = start(['--resume', out, '--device', 'cpu', '--queue', redis.url]);
    const code = await c2.exited;
    assert.is(code, 0, c2.out);
    assert.is([...c2.out.matchAll(/reattached to job/g)].length, LEAVES, c2.out);
    assert.equal(jobsRun(w).sort(), ['1', '2', '3', '4', '5']);
    assert.equal(comparable(out), comparable(local));
    await stopAll();
  });
} else {
  test.after(() => rmSync(tmp, { recursive: true, force: true }));
}

test.run();
