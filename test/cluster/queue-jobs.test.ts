// The worker's side of the queue's security: the job schema (every malformed or path-escaping job is
// rejected with its reason), rejection through a real queue (the job fails at once, without a retry,
// and the reason is logged), a store the worker cannot see, the --queue URL (password, TLS), and a
// password-protected Redis (no password and a wrong one refused; the URL's or GMNAS_REDIS_PASSWORD's
// accepted).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { validateJob, JobRejected, isInside, jobConfig, JOB_VERSION, type TrainLeafJob } from '../../src/pool/queue-jobs.js';
import { parseQueueUrl, bullConnection, QUEUE_NAME } from '../../src/pool/queue-connection.js';
import { RespClient } from '../../src/pool/redis-client.js';
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
  test.before(async () => {
    redis = await startRedis();
    secured = await startRedis({ password: 'pw-for-test' });
  });
  test.after(async () => {
    await redis?.dispose();
    await secured?.dispose();
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
    const bare = new RespClient({ host: '127.0.0.1', port: secured.port });
    await assert.not.throws(() => bare.connect());
    const noAuth = await bare.call('PING').then(() => null, (e: Error) => e);
    assert.match(noAuth?.message ?? '', /NOAUTH/);
    bare.disconnect();
    const wrong = new RespClient({ host: '127.0.0.1', port: secured.port, password: 'guess' });
    const wrongErr = await wrong.connect().then(() => null, (e: Error) => e);
    assert.match(wrongErr?.message ?? '', /AUTH: WRONGPASS|invalid password/);
    wrong.disconnect();
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
} else {
  test.after(() => rmSync(tmp, { recursive: true, force: true }));
}

test.run();
