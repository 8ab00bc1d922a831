// `node run.js --queue` with `node run.js worker` processes on a private redis-server, against a local
// run of the same seeded configuration (CPU backend): two workers on one queue, a worker killed with
// SIGKILL mid-leaf (stalled-job recovery, resumed from the leaf's last epoch checkpoint), a job that
// fails twice (failedLeaves), and a coordinator killed after queueing, Redis restarted (append-only
// persistence), and the coordinator resumed (it reattaches to its jobs; none is queued again). Every
// finished run must equal the local one: leaves (genotypes, scores, per-epoch losses) and final pick.
// A few-shot split (5 leaves, no GM scoring) keeps each run a few seconds. Then --select halving and the
// final retraining as train-genotype jobs, `rank --queue` (rank-leaf jobs) and `verify` of a run whose
// checkpoints are in the store, each against its local counterpart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, readdirSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { parseQueueUrl, bullConnection, QUEUE_NAME } from '../../src/pool/queue-connection.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp', GMNAS_QUEUE_LOCK_MS: '4000' };
const tmp = mkdtempSync(join(tmpdir(), 'gmnas-queue-search-'));
const CONFIG = ['--space', 'nb201', '--preset', 'tiny', '--method', 'fewshot', '--dataset', 'synthetic', '--synthetic-size', '128',
  '--seed', '5'];
const LEAVES = 5;

interface Proc { child: ChildProcess; out: string; exited: Promise<number | null> }

const live: Proc[] = [];
/** a gmnas process; every one is killed at the end of its test, whatever happens */
function start(args: string[], extraEnv: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [RUN_JS, ...args], { env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', exited: new Promise((r) => child.on('exit', (code) => r(code))) };
  child.stdout!.on('data', (d) => { p.out += d; });
  child.stderr!.on('data', (d) => { p.out += d; });
  live.push(p);
  return p;
}

/** the exit status of a coordinator, which must finish within `ms` */
async function finished(p: Proc, ms = 180_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => { p.child.kill('SIGKILL'); reject(new Error(`a coordinator ran over ${ms} ms:\n${p.out}`)); }, ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function worker(url: string, extra: string[] = [], extraEnv: Record<string, string> = {}): Promise<Proc> {
  const w = start(['worker', '--queue', url, '--device', 'cpu', ...extra], extraEnv);
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

/** Every `seconds` field (wall-clock timings) set to 0, at any depth. */
function withoutSeconds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutSeconds);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'seconds' ? 0 : withoutSeconds(x)]));
}

/** What must not differ between a local and a queued run (timings aside). */
function comparable(dir: string): unknown {
  const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  return withoutSeconds({ leaves: r.leaves, final: r.final, splits: r.splits, failed: r.failedLeaves });
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
  test.after.each(stopAll);
  test.after(async () => {
    await stopAll();
    await redis?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('two workers on one queue, checkpoints in a --store mounted at another path: result.json equals the local run', async () => {
    // worker a sees the store through its own mount point (a symlink here); worker b uses the job's path
    const shared = join(tmp, 'shared'), mount = join(tmp, 'mount');
    mkdirSync(shared);
    symlinkSync(shared, mount);
    const a = await worker(redis.url, ['--store', mount]), b = await worker(redis.url);
    const out = join(tmp, 'two');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--store', shared, '--out', out]);
    const code = await finished(c);
    assert.is(code, 0, c.out);
    assert.equal(comparable(out), comparable(local));
    assert.ok(jobsRun(a).length >= 1 && jobsRun(b).length >= 1, `one worker got every job:\n${a.out}\n${b.out}`);
    // (a leaf may run twice when a loaded machine starves a worker past its lock; never zero times)
    assert.equal([...new Set([...jobsRun(a), ...jobsRun(b)])].sort(), ['1', '2', '3', '4', '5']);
    assert.match(a.out, new RegExp(`checkpoints in ${mount}/gmnas-two-`));
    // every checkpoint is in the store (sealed: its SHA-256 is checked on every read); none in the run folder
    const [runStore] = readdirSync(shared);
    assert.match(runStore, /^gmnas-two-[0-9a-f]{8}$/);
    for (let n = 1; n <= LEAVES; n++) assert.ok(existsSync(join(shared, runStore, 'checkpoints', `node-${n}.safetensors`)), `node ${n}`);
    assert.not.ok(existsSync(join(out, 'checkpoints')));
    // resuming without the queue and its store would find no checkpoints and retrain from scratch: refused
    const refused = spawnSync(process.execPath, [RUN_JS, '--resume', out, '--device', 'cpu'], { env, encoding: 'utf8' });
    assert.is(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, new RegExp(`this run was started with --queue; its checkpoints are in ${shared}/gmnas-two-.*--store ${shared}`));
  });

  test('a worker killed with SIGKILL mid-leaf: another worker resumes the leaf; the result is unchanged', async () => {
    const victim = await worker(redis.url);
    const out = join(tmp, 'killed');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--out', out]);
    // kill once the victim has saved the first epoch of its first leaf (checkpoint renamed into place)
    await until('the victim to save an epoch', () => /leaf-\d+: epoch 1\/3 saved/.test(victim.out));
    const node = jobsRun(victim)[0];
    victim.child.kill('SIGKILL');
    await victim.exited;
    assert.not.match(victim.out, new RegExp(`leaf-${node}: done`));
    const rescuer = await worker(redis.url);
    const code = await finished(c);
    assert.is(code, 0, c.out);
    assert.ok(jobsRun(rescuer).includes(node), `the rescuer never ran leaf ${node}:\n${rescuer.out}`);
    // it resumed from the victim's checkpoint: it never trained the leaf's first epoch again
    const saved = [...rescuer.out.matchAll(new RegExp(`leaf-${node}: epoch (\\d+)/3 saved`, 'g'))].map((m) => Number(m[1]));
    assert.not.ok(saved.includes(1), `leaf ${node} epochs saved by the rescuer: ${saved.join(', ')}`);
    assert.match(c.out, new RegExp(`leaf ${node}: its worker stopped answering`));
    assert.equal(comparable(out), comparable(local));
  });

  test('a job that fails twice, and one whose checkpoint was damaged in the store, are reported in failedLeaves; the other leaves finish', async () => {
    const out = join(tmp, 'failing');
    const c = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--inject-leaf-failure', '2', '--out', out]);
    // before any worker runs: flip one byte of leaf 3's weights in the shared store
    await until('the leaf jobs to be queued', () => /5 leaf job\(s\)/.test(c.out));
    const damaged = join(out, 'checkpoints', 'node-3.safetensors');
    const bytes = readFileSync(damaged);
    bytes[bytes.length - 5] ^= 0x40;
    writeFileSync(damaged, bytes);
    const w = await worker(redis.url);
    const code = await finished(c);
    assert.is(code, 1, c.out);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(r.failedLeaves.map((f: { node: number }) => f.node), [2, 3]);
    assert.match(r.failedLeaves[0].error, /injected failure of leaf 2/);
    assert.match(r.failedLeaves[1].error, new RegExp(`${damaged}: SHA-256 checksum mismatch`));
    assert.is(r.leaves.length, LEAVES - 2);
    assert.ok(jobsRun(w).filter((n) => n === '2').length >= 2, w.out);
    assert.match(w.out, /node 2 \(attempt 2\)/);
  });

  test('coordinator killed after queueing, Redis restarted, coordinator resumed: jobs kept, reattached, none queued again', async () => {
    const out = join(tmp, 'resumed');
    const target = parseQueueUrl(redis.url, {});
    const c1 = start([...CONFIG, '--device', 'cpu', '--queue', redis.url, '--out', out]);
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
    const code = await finished(c2);
    assert.is(code, 0, c2.out);
    assert.is([...c2.out.matchAll(/reattached to job/g)].length, LEAVES, c2.out);
    assert.not.match(c2.out, /queued again/);
    assert.equal([...new Set(jobsRun(w))].sort(), ['1', '2', '3', '4', '5']);
    assert.equal(comparable(out), comparable(local));
  });

  test('--select halving and the retraining as train-genotype jobs, rank --queue as rank-leaf jobs, verify in the store: all equal the local run', async () => {
    // one epoch per leaf keeps it short; the local reference runs while the queued run does
    const HALVING = [...CONFIG, '--epochs', '1', '--select', 'halving', '--device', 'cpu'];
    const localHalving = join(tmp, 'local-halving');
    const l = start([...HALVING, '--workers', '1', '--quiet', '--out', localHalving]);
    const shared = join(tmp, 'shared-halving');
    mkdirSync(shared);
    // nothing is killed here: a long lock keeps a starved worker's jobs from being taken for stalled
    // (a job stalled twice fails, and a failed halving job fails the search)
    const w = await worker(redis.url, ['--concurrency', '2'], { GMNAS_QUEUE_LOCK_MS: '60000' });
    const out = join(tmp, 'halving');
    const c = start([...HALVING, '--queue', redis.url, '--store', shared, '--out', out]);
    assert.is(await finished(c), 0, c.out);
    assert.is(await finished(l), 0, l.out);
    const res = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.is(res.final.selectedBy, 'halving');
    assert.ok(res.final.halving.rounds.length >= 2 && res.final.retrain, JSON.stringify(res.final));
    // every round's candidates and the retraining ran on the worker, with the local run's numbers
    const rounds = res.final.halving.rounds as { candidates: number[] }[];
    const trained = [...w.out.matchAll(/train-genotype halving leaf (\d+)/g)].length;
    assert.ok(trained >= rounds.reduce((n, r) => n + r.candidates.length, 0), w.out);
    assert.match(w.out, /train-genotype retrain leaf \d+/);
    assert.match(c.out, /5 train-genotype job\(s\) \(halving\)/); // a round's candidates queued at once
    assert.equal(comparable(out), comparable(localHalving));

    // rank: the same genotypes scored locally and by rank-leaf jobs reading the leaves from the store
    const archs = join(tmp, 'archs.txt');
    const leafArchs = (res.leaves as { genotype: string }[]).map((x) => x.genotype);
    writeFileSync(archs, [...leafArchs,
      '|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_1x1~2|',
      '|avg_pool_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|nor_conv_1x1~1|avg_pool_3x3~2|'].join('\n') + '\n');
    const localCsv = join(tmp, 'rank-local.csv'), queuedCsv = join(tmp, 'rank-queued.csv');
    const rl = start(['rank', '--from', localHalving, '--archs', archs, '--out', localCsv, '--device', 'cpu', '--quiet']);
    const rq = start(['rank', '--from', out, '--archs', archs, '--out', queuedCsv, '--queue', redis.url]);
    assert.is(await finished(rq), 0, rq.out);
    assert.is(await finished(rl), 0, rl.out);
    assert.is(readFileSync(queuedCsv, 'utf8'), readFileSync(localCsv, 'utf8'));
    assert.is(readFileSync(localCsv, 'utf8').trim().split('\n').length, 1 + leafArchs.length + 2);
    assert.ok([...w.out.matchAll(/rank-leaf node (\d+)/g)].length >= 2, w.out); // several leaves, each its own job
    assert.match(w.out, new RegExp(`rank-leaf node \\d+, \\d genotype\\(s\\) with ${shared}/gmnas-halving-[0-9a-f]{8}/checkpoints/node-\\d+\\.safetensors`));

    // verify follows queue-store.json into the store
    const v = spawnSync(process.execPath, [RUN_JS, 'verify', out], { env, encoding: 'utf8' });
    assert.is(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout, new RegExp(`ok\\s+${shared}/gmnas-halving-[0-9a-f]{8}/checkpoints/node-1\\.safetensors: SHA-256 matches`));
  });
} else {
  test.after(() => rmSync(tmp, { recursive: true, force: true }));
}

test.run();
