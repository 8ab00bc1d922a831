// `node run.js worker --queue redis://HOST:PORT [--concurrency N] [--device D] [--store DIR]`: a
// process that takes gmnas jobs from the queue until stopped (Ctrl-C finishes the jobs it holds; a
// second Ctrl-C stops at once, and the queue hands those jobs to another worker). The logic is in
// src/pool/queue-worker.ts; docs: README "Several machines".
import { resolve } from 'node:path';
import { parseFlags, intFlag, UsageError } from './args.js';
import { AUTOTUNE_FLAG, AUTOTUNE_FLAG_HELP, DEVICE_CHOICES, readAutotuneFlag, type DeviceChoice } from './common-flags.js';
import { parseQueueUrl } from '../pool/queue-connection.js';
import { startQueueWorker } from '../pool/queue-worker.js';
import { checkStoreVisible } from '../pool/shared-store.js';

const HELP = `usage: node run.js worker --queue redis://HOST:PORT [flags]
Takes gmnas jobs from the queue: train-leaf (a search's leaves), train-genotype (--select halving rounds,
the final retraining), rank-leaf (\`rank --queue\`).
  --queue URL            the Redis of the job queue: redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss://
                         for TLS; the password may instead come from GMNAS_REDIS_PASSWORD
  --concurrency N        jobs run at once, each on its own thread and device (default 1)
  --device auto|webgpu|cpu   backend of every job (default auto)
${AUTOTUNE_FLAG_HELP}
  --store DIR            this machine's mount of the shared checkpoint folder; every job's paths must lie
                         inside it (default: the path each job names, the same mount on every machine)
Environment: GMNAS_QUEUE_LOCK_MS (default 30000): a killed worker's job goes back to the queue after about
this long without a lock renewal.`;

export async function workerCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags('worker', argv, {
    queue: { type: 'string' }, concurrency: { type: 'string' }, device: { type: 'string' }, store: { type: 'string' },
    ...AUTOTUNE_FLAG, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) { console.log(HELP); return 0; }
  if (positionals.length) throw new UsageError(`worker: unexpected argument '${positionals[0]}'`);
  if (!v.queue) throw new UsageError(`worker: --queue redis://HOST:PORT is required\n${HELP}`);
  let target;
  try { target = parseQueueUrl(String(v.queue)); } catch (e) { throw new UsageError((e as Error).message); }
  const concurrency = intFlag(v, 'concurrency', 1, 1);
  const device = String(v.device ?? 'auto') as DeviceChoice;
  if (!(DEVICE_CHOICES as readonly string[]).includes(device)) throw new UsageError(`--device ${device}: expected one of ${DEVICE_CHOICES.join(', ')}`);
  const store = v.store === undefined ? null : resolve(String(v.store));
  if (store) {
    try { checkStoreVisible(store, '--store'); } catch (e) { throw new UsageError((e as Error).message); }
  }
  const lockText = process.env.GMNAS_QUEUE_LOCK_MS;
  const lockMs = lockText === undefined ? 30_000 : Number(lockText);
  if (!Number.isInteger(lockMs) || lockMs < 200) throw new UsageError(`GMNAS_QUEUE_LOCK_MS ${lockText}: expected an integer >= 200 (milliseconds)`);
  const log = (line: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`); };
  const running = await startQueueWorker({ target, concurrency, device, autotune: readAutotuneFlag(v), store, lockMs, log });
  log(`gmnas worker ${process.pid}: queue ${target.display}, concurrency ${concurrency}, device ${device}, store ${store ?? '(the path each job names)'}`);
  log('ready');
  await new Promise<void>((done) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) { log('stopping now; the queue hands the held jobs to another worker'); process.exit(130); }
      stopping = true;
      log('finishing the jobs held (Ctrl-C again to stop at once)');
      running.close().then(done, (e: Error) => { log(`close: ${e.message}`); done(); });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}
