// `--queue redis://[:PASSWORD@]HOST[:PORT][/DB]` (or rediss:// for TLS): the Redis that carries the
// job queue, shared by the coordinator and every worker. The password may come from the URL or from
// GMNAS_REDIS_PASSWORD (kept out of shell history and `ps`); it is never printed: `display` is the URL
// without it. Every BullMQ connection goes through our RESP client (redis-client.ts).
import { RedisConnection, type ConnectionOptions } from 'bullmq';
import { RespClient, type RespClientOptions } from './redis-client.js';

/** The BullMQ queue every gmnas coordinator and worker uses (one Redis may serve several runs). */
export const QUEUE_NAME = 'gmnas';

export interface QueueTarget {
  connection: RespClientOptions;
  /** the URL without its password, for messages */
  display: string;
}

/** Parse the --queue value; every problem is one line naming the flag. */
export function parseQueueUrl(text: string, env: Record<string, string | undefined> = process.env): QueueTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--queue ${text}: not a URL (expected redis://HOST:PORT or rediss://HOST:PORT)`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`--queue ${url.protocol}//…: expected redis:// or rediss:// (TLS)`);
  }
  if (!url.hostname) throw new Error(`--queue ${text}: no host`);
  const port = url.port === '' ? 6379 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--queue: port ${url.port} is not in 1–65535`);
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new Error(`--queue: database '/${dbText}' is not an integer in 0–15`);
  const password = url.password ? decodeURIComponent(url.password) : env.GMNAS_REDIS_PASSWORD || undefined;
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  // IPv6 literals come back bracketed from URL
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: RespClientOptions = {
    host, port, db,
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  const display = `${url.protocol}//${username ? `${username}@` : ''}${url.host}${db ? `/${db}` : ''}${password ? ' (with password)' : ''}`;
  return { connection, display };
}

let installed = false;

/** Make BullMQ build its connections with our client (it has no Redis driver of its own). */
export function useRespClient(): void {
  if (installed) return;
  installed = true;
  (RedisConnection as unknown as { clientFactory: (o: RespClientOptions) => RespClient }).clientFactory = (o) => new RespClient(o);
}

/** Connection options for a BullMQ Queue/Worker/QueueEvents. */
export function bullConnection(t: QueueTarget): ConnectionOptions {
  useRespClient();
  return { ...t.connection } as ConnectionOptions;
}
