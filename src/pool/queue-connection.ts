// `--queue redis://[:PASSWORD@]HOST[:PORT][/DB]` (or rediss:// for TLS, GMNAS_REDIS_CA for a private CA): the Redis that carries the
// job queue, shared by the coordinator and every worker. The password may come from the URL or from
// GMNAS_REDIS_PASSWORD (kept out of shell history and `ps`); it is never printed: `display` is the URL
// without it. Connections are ioredis clients: BullMQ 6 has no driver of its own (ioredis is its optional
// peer) and its ESM build cannot `require` ioredis itself, so we hand it a factory.
import { RedisConnection, createIORedisClient, type ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { readFileSync } from 'node:fs';

/** The BullMQ queue every gmnas coordinator and worker uses (one Redis may serve several runs). */
export const QUEUE_NAME = 'gmnas';

export interface QueueTarget {
  connection: RedisOptions & { host: string; port: number; db: number };
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
  const connection: QueueTarget['connection'] = {
    host, port, db,
    ...(password ? { password } : {}),
    ...(username ? { username } : {}),
    ...(url.protocol === 'rediss:' ? { tls: tlsOptions(env) } : {}),
  };
  const display = `${url.protocol}//${username ? `${username}@` : ''}${url.host}${db ? `/${db}` : ''}${password ? ' (with password)' : ''}`;
  return { connection, display };
}

/** rediss://: the system's CAs, or GMNAS_REDIS_CA (a PEM file: the CA that signed a private Redis's
 *  certificate). The server's name is always checked against its certificate. */
function tlsOptions(env: Record<string, string | undefined>): { ca?: string } {
  const file = env.GMNAS_REDIS_CA;
  if (!file) return {};
  try {
    return { ca: readFileSync(file, 'utf8') };
  } catch (e) {
    throw new Error(`GMNAS_REDIS_CA ${file}: cannot read the CA certificate (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

let installed = false;

/** Make BullMQ build each of its connections as an ioredis client. */
export function useIORedis(): void {
  if (installed) return;
  installed = true;
  RedisConnection.clientFactory = (o) => createIORedisClient(new Redis(o as RedisOptions));
}

/** Connection options for a BullMQ Queue/Worker/QueueEvents (each makes its own connections). */
export function bullConnection(t: QueueTarget): ConnectionOptions {
  useIORedis();
  return { ...t.connection } as ConnectionOptions;
}
