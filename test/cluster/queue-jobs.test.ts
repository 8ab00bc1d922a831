// The worker's side of the queue's security: the job schema (every malformed or path-escaping job is
// rejected with its reason), rejection through a real queue (the job fails at once, without a retry,
// and the reason is logged), a store the worker cannot see, the --queue URL (password, TLS), and a
// password-protected Redis (no password and a wrong one refused; the URL's or GMNAS_REDIS_PASSWORD's
// accepted).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { validateJob, JobRejected, isInside, jobConfig, JOB_VERSION, type TrainLeafJob, type TrainGenotypeJob, type RankLeafJob } from '../../src/pool/queue-jobs.js';
import { parseQueueUrl, bullConnection, QUEUE_NAME } from '../../src/pool/queue-connection.js';
import { Redis } from 'ioredis';
import { startQueueWorker } from '../../src/pool/queue-worker.js';
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis.js';

const tmp = mkdtempSync(join(tmpdir(), 'gmnas-queue-jobs-'));
const store = join(tmp, 'store');
mkdirSync(join(store, 'run', 'checkpoints'), { recursive: true });

const FULL_MASK = Array(6).fill('11111').join('/');

function goodJob(): TrainLeafJob {
  const c = jobConfig(defaultSearchConfig({ preset: 'tiny' }));
  return {
    v: JOB_VERSION, store: { root: store, dir: 'run' }, config: c,
    node: { id: 3, mask: FULL_MASK, fromEpoch: 2, toEpoch: 3, restartedAt: 2 },
    progress: { epochsDone: 2, history: [] },
  };
}

test('path containment is decided by path components, not string prefixes', () => {
  assert.ok(isInside('/srv/store', '/srv/store'));
  assert.ok(isInside('/srv/store', '/srv/store/a/b'));
  assert.not.ok(isInside('/srv/store', '/srv/store-evil/a'));
  assert.not.ok(isInside('/srv/store', '/srv'));
  assert.not.ok(isInside('/srv/store', '/srv/store/../x'));
});

test('a well-formed train-leaf job passes, with its checkpoint folder inside the store', () => {
  const v = validateJob('train-leaf', goodJob(), store);
  assert.is(v.kind, 'train-leaf');
  assert.is(v.checkpointRoot, join(store, 'run'));
  // without --store the worker uses the job's absolute root
  assert.is(validateJob('train-leaf', goodJob(), null).checkpointRoot, join(store, 'run'));
});

test('malformed and path-escaping jobs are rejected with a reason naming the field', () => {
  const cases: [string, (j: Record<string, any>) => unknown, RegExp][] = [
    ['shell', (j) => j, /unknown job kind "shell"/],
    ['train-leaf', (j) => ({ ...j, v: 2 }), /job version 2/],
    ['train-leaf', () => 'not an object', /job data is not an object/],
    ['train-leaf', (j) => ({ ...j, command: 'rm -rf /' }), /field 'command' is not part of a train-leaf job/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, seed: -1 } }), /seed/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, channels: 100000 } }), /config.channels 100000 is not an integer in \[1, 1024\]/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, method: 'evil' } }), /--method: expected one of/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, dataset: '../../etc' } }), /--dataset/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, lr: '0.1' } }), /config.lr is a string, expected a number/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, hook: 1 } }), /config.hook is not a configuration field/],
    ['train-leaf', (j) => { const c = { ...j.config }; delete c.seed; return { ...j, config: c }; }, /config.seed is missing/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, bench: '/etc/passwd' } }), /config.bench must be null/],
    ['train-leaf', (j) => ({ ...j, config: { ...j.config, dataDir: '/etc' } }), /config.dataDir \/etc is outside the store/],
    ['train-leaf', (j) => ({ ...j, store: { root: store, dir: '../../etc' } }), /store.dir \.\.\/\.\.\/etc leaves the store/],
    ['train-leaf', (j) => ({ ...j, store: { root: store, dir: 'run/../../x' } }), /leaves the store/],
    ['train-leaf', (j) => ({ ...j, store: { root: store, dir: '/etc' } }), /store.dir \/etc leaves the store/],
    ['train-leaf', (j) => ({ ...j, store: { root: 'relative/root', dir: 'run' } }), /not an absolute path/],
    ['train-leaf', (j) => ({ ...j, node: { ...j.node, mask: '11111' } }), /node.mask/],
    ['train-leaf', (j) => ({ ...j, node: { ...j.node, id: 1.5 } }), /node.id 1.5 is not an integer/],
    ['train-leaf', (j) => ({ ...j, node: { ...j.node, toEpoch: 99 } }), /node.toEpoch 99/],
    ['train-leaf', (j) => ({ ...j, progress: { epochsDone: 1, history: 'x' } }), /progress.history/],
    ['train-leaf', (j) => ({ ...j, fail: 'yes' }), /fail is not a boolean/],
  ];
  for (const [name, mutate, reason] of cases) {
    let error: unknown = null;
    try { validateJob(name, mutate(goodJob() as unknown as Record<string, any>), store); } catch (e) { error = e; }
    assert.instance(error, JobRejected, `${reason}: not rejected`);
    assert.match((error as Error).message, reason);
  }
  // with --store the worker ignores the job's root: an escaping root is no way out
  const v = validateJob('train-leaf', { ...goodJob(), store: { root: '/', dir: 'run' } }, store);
  assert.is(v.checkpointRoot, join(store, 'run'));
});

const NB201_ARCH = '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|';
const OTHER_ARCH = '|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|';

function goodGenotypeJob(purpose: 'halving' | 'retrain' = 'halving'): TrainGenotypeJob {
  const c = jobConfig(defaultSearchConfig({ preset: 'tiny' }));
  return {
    v: JOB_VERSION, store: { root: store, dir: 'run' }, config: c,
    task: purpose === 'halving' ? { purpose, node: 4, round: 1, genotype: NB201_ARCH, epochs: 2, seed: 12345 } : { purpose, node: 4, genotype: NB201_ARCH, epochs: 3 },
  };
}

function goodRankJob(): RankLeafJob {
  const c = jobConfig(defaultSearchConfig({ preset: 'tiny' }));
  return {
    v: JOB_VERSION, store: { root: store, dir: 'run' }, config: c, node: { id: 2, mask: FULL_MASK }, archs: [NB201_ARCH, OTHER_ARCH],
    rank: { valBatches: 2, bnRecalibrate: 0 }, dataset: { name: 'synthetic', trainImages: 256, weightsHalf: 128, archHalf: 128, imageShape: [3, 8, 8], classes: 10 },
  };
}

test('well-formed train-genotype (halving, retrain) and rank-leaf jobs pass', () => {
  assert.is(validateJob('train-genotype', goodGenotypeJob('halving'), store).kind, 'train-genotype');
  assert.is(validateJob('train-genotype', goodGenotypeJob('retrain'), store).kind, 'train-genotype');
  const r = validateJob('rank-leaf', goodRankJob(), store);
  assert.is(r.kind, 'rank-leaf');
  assert.is(r.checkpointRoot, join(store, 'run'));
  assert.ok(validateJob('rank-leaf', { ...goodRankJob(), rank: { valBatches: null, bnRecalibrate: 4 }, dataset: null }, store));
});

test('malformed train-genotype and rank-leaf jobs are rejected with a reason naming the field', () => {
  const oneMask = '10000/' + Array(5).fill('11111').join('/'); // edge 0 only 'none'
  const cases: [string, (j: Record<string, any>) => unknown, RegExp][] = [
    ['train-genotype', (j) => ({ ...j, node: { id: 1 } }), /field 'node' is not part of a train-genotype job/],
    ['train-genotype', (j) => ({ ...j, task: undefined }), /task is not an object/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, purpose: 'exec' } }), /task.purpose "exec" is not one of halving, retrain/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, genotype: 'rm -rf /' } }), /task.genotype: /],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, genotype: 'x'.repeat(20_000) } }), /task.genotype is not a string of at most/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, epochs: 0 } }), /task.epochs 0 is not an integer in \[1, 10000\]/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, epochs: 1e9 } }), /task.epochs/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, seed: -3 } }), /task.seed -3/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, round: 'first' } }), /task.round "first"/],
    ['train-genotype', (j) => ({ ...j, task: { ...j.task, path: '/etc/passwd' } }), /field 'task.path' is not part of a halving task/],
    ['train-genotype', (j) => ({ ...j, config: { ...j.config, dataDir: '/etc' } }), /config.dataDir \/etc is outside the store/],
    ['rank-leaf', (j) => ({ ...j, archs: [] }), /archs is not an array of 1 to 100000 genotypes/],
    ['rank-leaf', (j) => ({ ...j, archs: 'all' }), /archs is not an array/],
    ['rank-leaf', (j) => ({ ...j, archs: [NB201_ARCH, 42] }), /archs\[1\] is not a string/],
    ['rank-leaf', (j) => ({ ...j, archs: ['|conv_9x9~0|'] }), /archs\[0\]: /],
    ['rank-leaf', (j) => ({ ...j, archs: [NB201_ARCH, NB201_ARCH] }), /archs\[1\] .* is listed twice/],
    ['rank-leaf', (j) => ({ ...j, node: { id: 2, mask: oneMask } }), /archs\[0\] .* is not admitted by node.mask/],
    ['rank-leaf', (j) => ({ ...j, node: { id: 2, mask: FULL_MASK, file: '/etc/shadow' } }), /field 'node.file' is not part of a rank-leaf job/],
    ['rank-leaf', (j) => ({ ...j, node: { id: -1, mask: FULL_MASK } }), /node.id -1/],
    ['rank-leaf', (j) => ({ ...j, rank: { valBatches: 0, bnRecalibrate: 0 } }), /rank.valBatches 0/],
    ['rank-leaf', (j) => ({ ...j, rank: { valBatches: 2, bnRecalibrate: 0.5 } }), /rank.bnRecalibrate 0.5/],
    ['rank-leaf', (j) => ({ ...j, rank: { valBatches: 2, bnRecalibrate: 0, extra: 1 } }), /field 'rank.extra'/],
    ['rank-leaf', (j) => ({ ...j, dataset: { ...j.dataset, imageShape: [3, 8] } }), /dataset.imageShape/],
    ['rank-leaf', (j) => ({ ...j, dataset: { ...j.dataset, trainImages: 'many' } }), /dataset.trainImages "many"/],
    ['rank-leaf', (j) => ({ ...j, store: { root: store, dir: '../x' } }), /leaves the store/],
    ['rank-leaf', (j) => ({ ...j, task: {} }), /field 'task' is not part of a rank-leaf job/],
  ];
  for (const [name, mutate, reason] of cases) {
    const base = name === 'rank-leaf' ? goodRankJob() : goodGenotypeJob();
    let error: unknown = null;
    try { validateJob(name, mutate(base as unknown as Record<string, any>), store); } catch (e) { error = e; }
    assert.instance(error, JobRejected, `${reason}: not rejected`);
    assert.match((error as Error).message, reason);
  }
  // a retrain task takes no seed or round (the search's protocol fixes them)
  assert.throws(() => validateJob('train-genotype', { ...goodGenotypeJob('retrain'), task: { ...goodGenotypeJob('retrain').task, seed: 1 } }, store), /field 'task.seed' is not part of a retrain task/);
});

test('--queue URLs: password from the URL or the environment, never displayed; rediss:// means TLS', () => {
  const a = parseQueueUrl('redis://:s3cret@10.0.0.5:6380/2', {});
  assert.equal([a.connection.host, a.connection.port, a.connection.db, a.connection.password, a.connection.tls], ['10.0.0.5', 6380, 2, 's3cret', undefined]);
  assert.not.match(a.display, /s3cret/);
  const b = parseQueueUrl('rediss://queue.internal', { GMNAS_REDIS_PASSWORD: 'envpw' });
  assert.equal([b.connection.port, b.connection.password, b.connection.tls], [6379, 'envpw', {}]);
  assert.not.match(b.display, /envpw/);
  assert.is(parseQueueUrl('redis://127.0.0.1:1', {}).connection.password, undefined);
  assert.throws(() => parseQueueUrl('http://h:1', {}), /expected redis:\/\/ or rediss:\/\//);
  assert.throws(() => parseQueueUrl('127.0.0.1:6379', {}), /--queue .*(not a URL|expected redis)/);
  assert.throws(() => parseQueueUrl('redis://h:1/99', {}), /database/);
});

if (redisAvailable()) {
  let redis: TestRedis;
  let secured: TestRedis;
  let tls: TestRedis;
  // a self-signed certificate for 127.0.0.1 (test/cluster/fixtures/README.md)
  const fixture = (f: string): string => fileURLToPath(new URL(`../../../test/cluster/fixtures/${f}`, import.meta.url));
  const CERT = fixture('redis-tls-cert.pem');
  test.before(async () => {
    redis = await startRedis();
    secured = await startRedis({ password: 'pw-for-test' });
    tls = await startRedis({ password: 'tls-pw', tls: { cert: CERT, key: fixture('redis-tls-key.pem') } });
  });
  test.after(async () => {
    await redis?.dispose();
    await secured?.dispose();
    await tls?.dispose();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('through the queue: a malformed and a path-escaping job fail at once (no retry) with the logged reason', async () => {
    const target = parseQueueUrl(redis.url, {});
    const lines: string[] = [];
    const w = await startQueueWorker({ target, concurrency: 1, device: 'cpu', autotune: false, store, lockMs: 5000, log: (l) => lines.push(l) });
    const queue = new Queue(QUEUE_NAME, { connection: bullConnection(target) });
    const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(target) });
    try {
      await events.waitUntilReady();
      const escaping = { ...goodJob(), store: { root: store, dir: '../../../etc' } };
      const jobs = [
        await queue.add('train-leaf', escaping, { jobId: 'bad-path', attempts: 2 }),
        await queue.add('format-disk', { v: 1 }, { jobId: 'bad-kind', attempts: 2 }),
      ];
      for (const job of jobs) {
        const err = await job.waitUntilFinished(events).then(() => null, (e: Error) => e);
        assert.ok(err, `${job.id} did not fail`);
        assert.match(err!.message, /rejected by worker/);
        const after = (await queue.getJob(job.id!))!;
        assert.is(after.attemptsMade, 1, `${job.id} was retried`);
      }
      assert.ok(lines.some((l) => /rejected job bad-path: store.dir \.\.\/\.\.\/\.\.\/etc leaves the store/.test(l)), lines.join('\n'));
      assert.ok(lines.some((l) => /rejected job bad-kind: unknown job kind "format-disk"/.test(l)), lines.join('\n'));
      assert.equal(readdirSync(join(store, 'run', 'checkpoints')), []);
    } finally {
      await w.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  test('a worker that cannot see the store fails the job at once, naming the path', async () => {
    const target = parseQueueUrl(redis.url, {});
    const lines: string[] = [];
    const w = await startQueueWorker({ target, concurrency: 1, device: 'cpu', autotune: false, store: null, lockMs: 5000, log: (l) => lines.push(l) });
    const queue = new Queue(QUEUE_NAME, { connection: bullConnection(target) });
    const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(target) });
    try {
      await events.waitUntilReady();
      const missing = join(tmp, 'not-mounted');
      const job = await queue.add('train-leaf', { ...goodJob(), store: { root: missing, dir: '.' } }, { jobId: 'no-store', attempts: 2 });
      const err = await job.waitUntilFinished(events).then(() => null, (e: Error) => e);
      assert.match(err?.message ?? '', new RegExp(`store ${missing} is not visible on this machine`));
      assert.is((await queue.getJob('no-store'))!.attemptsMade, 1);
    } finally {
      await w.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  test('password-protected Redis: refused without or with a wrong password, works with the URL\'s or GMNAS_REDIS_PASSWORD', async () => {
    // the first error a connection meets (an 'error' event during the handshake, or the command's)
    const refusal = async (password?: string): Promise<string> => {
      const client = new Redis({ host: '127.0.0.1', port: secured.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, ...(password ? { password } : {}) });
      const seen: string[] = [];
      client.on('error', (e: Error) => seen.push(e.message));
      const r = await client.connect().then(() => client.ping()).then((x) => `answered ${x}`, (e: Error) => e.message);
      client.disconnect();
      return seen[0] ?? r;
    };
    assert.match(await refusal(), /NOAUTH/);
    assert.match(await refusal('guess'), /WRONGPASS|invalid username-password/);
    assert.is(await refusal('pw-for-test'), 'answered PONG');
    for (const target of [parseQueueUrl(`redis://:pw-for-test@127.0.0.1:${secured.port}`, {}),
      parseQueueUrl(secured.url, { GMNAS_REDIS_PASSWORD: 'pw-for-test' })]) {
      const queue = new Queue('auth-check', { connection: bullConnection(target) });
      const events = new QueueEvents('auth-check', { connection: bullConnection(target) });
      const worker = new Worker('auth-check', async (job) => ({ doubled: (job.data as { x: number }).x * 2 }), { connection: bullConnection(target) });
      try {
        await events.waitUntilReady();
        const job = await queue.add('double', { x: 21 });
        assert.equal(await job.waitUntilFinished(events), { doubled: 42 });
      } finally {
        await worker.close();
        await events.close();
        await queue.obliterate({ force: true });
        await queue.close();
      }
    }
  });
  test('rediss:// (TLS): a queue round trip through a TLS-only Redis trusting GMNAS_REDIS_CA; an untrusted certificate is refused', async () => {
    assert.match(tls.url, /^rediss:/);
    const target = parseQueueUrl(tls.url, { GMNAS_REDIS_PASSWORD: 'tls-pw', GMNAS_REDIS_CA: CERT });
    const queue = new Queue('tls-check', { connection: bullConnection(target) });
    const events = new QueueEvents('tls-check', { connection: bullConnection(target) });
    const worker = new Worker('tls-check', async (job) => ({ echoed: (job.data as { s: string }).s }), { connection: bullConnection(target) });
    try {
      await events.waitUntilReady();
      const job = await queue.add('echo', { s: 'over tls' });
      assert.equal(await job.waitUntilFinished(events), { echoed: 'over tls' });
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
    // without the CA the self-signed certificate is not trusted
    const untrusted = parseQueueUrl(tls.url, { GMNAS_REDIS_PASSWORD: 'tls-pw' });
    const client = new Redis({ ...untrusted.connection, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const seen: string[] = [];
    client.on('error', (e: Error) => seen.push(e.message));
    const r = await client.connect().then(() => client.ping()).then((x) => `answered ${x}`, (e: Error) => e.message);
    client.disconnect();
    assert.match(seen[0] ?? r, /self.signed|certificate/i);
    assert.throws(() => parseQueueUrl(tls.url, { GMNAS_REDIS_CA: '/nonexistent/ca.pem' }), /GMNAS_REDIS_CA \/nonexistent\/ca.pem: cannot read/);
  });
} else {
  test.after(() => rmSync(tmp, { recursive: true, force: true }));
}

test.run();
