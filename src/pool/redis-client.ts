// A small Redis client (RESP2 over node:net / node:tls) that implements BullMQ's IRedisClient, so the
// job queue runs without an extra driver package. BullMQ 6 ships no Redis driver of its own (ioredis
// and node-redis are optional peers, and neither is a dependency of gmnas); this covers exactly the
// commands BullMQ's IRedisClient declares. One client is one TCP connection: BullMQ gives each
// blocking reader (a worker's BZPOPMIN, QueueEvents' XREAD) its own RedisConnection, hence its own
// client.
//
// Behaviour BullMQ relies on (from its ioredis adapter): `status` 'wait' → 'connecting' → 'ready',
// 'reconnecting' after a dropped connection, 'end' after disconnect(); events 'ready', 'error',
// 'close', 'end'; commands issued before 'ready' wait in an offline queue; commands in flight when
// the connection drops fail with BullMQ's ConnectionClosedError; Lua scripts registered with
// defineCommand and run by EVALSHA with an EVAL fallback (a restarted Redis forgets its scripts).
import { EventEmitter } from 'node:events';
import { createHash } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsOptions } from 'node:tls';
import { Readable } from 'node:stream';
import { ConnectionClosedError } from 'bullmq';

export interface RespClientOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  /** TLS options (rediss://); absent: plain TCP */
  tls?: TlsOptions;
  connectionName?: string;
  /** ms to wait before reconnect attempt `times` (1, 2, …); null: do not reconnect */
  retryStrategy?: (times: number) => number | null | void;
  [key: string]: unknown;
}

type Reply = string | number | null | Error | Reply[];

/** A server error reply (ioredis calls it ReplyError). */
export class RedisReplyError extends Error {}

const CLOSED = 'Connection is closed.';

// ---- RESP2 encoding and incremental parsing ---------------------------------------------------

function encodeCommand(args: readonly (string | number | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses replies out of a byte stream; `next()` returns undefined until a whole reply is buffered. */
class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  push(chunk: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  next(): { value: Reply } | undefined {
    const start = this.pos;
    const r = this.parse();
    if (r === undefined) this.pos = start;
    return r;
  }

  private line(): string | undefined {
    const end = this.buf.indexOf('\r\n', this.pos);
    if (end < 0) return undefined;
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 2;
    return s;
  }

  private parse(): { value: Reply } | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const type = String.fromCharCode(this.buf[this.pos++]);
    const head = this.line();
    if (head === undefined) return undefined;
    switch (type) {
      case '+': return { value: head };
      case '-': return { value: new RedisReplyError(head) };
      case ':': return { value: Number(head) };
      case '$': {
        const n = Number(head);
        if (n < 0) return { value: null };
        if (this.pos + n + 2 > this.buf.length) return undefined;
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return { value: s };
      }
      case '*': {
        const n = Number(head);
        if (n < 0) return { value: null };
        const out: Reply[] = [];
        for (let i = 0; i < n; i++) {
          const item = this.parse();
          if (item === undefined) return undefined;
          out.push(item.value);
        }
        return { value: out };
      }
      default:
        throw new Error(`redis: unexpected reply type '${type}' (is this a Redis server?)`);
    }
  }
}

// ---- the connection ---------------------------------------------------------------------------

interface Pending { resolve: (r: Reply) => void; reject: (e: Error) => void }
type Arg = string | number | Buffer;

export class RespClient extends EventEmitter {
  status = 'wait';
  readonly isCluster = false;
  options: RespClientOptions;
  private socket: Socket | null = null;
  private parser = new ReplyParser();
  /** replies awaited, in the order the commands were written */
  private inFlight: Pending[] = [];
  /** commands issued before the connection was ready */
  private offline: { args: Arg[]; p: Pending }[] = [];
  private scripts = new Map<string, { sha: string; lua: string; keys: number }>();
  private attempts = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private userClosed = false;
  private connecting: Promise<void> | null = null;

  constructor(options: RespClientOptions) {
    super();
    this.options = { ...options };
  }

  // -- lifecycle

  connect(): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.userClosed = false;
    this.status = this.attempts ? 'reconnecting' : 'connecting';
    this.connecting = new Promise<void>((resolve, reject) => {
      const o = this.options;
      const socket = o.tls
        ? tlsConnect({ host: o.host, port: o.port, servername: o.host, ...o.tls })
        : netConnect({ host: o.host, port: o.port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 30_000);
      let opened = false;
      socket.once(o.tls ? 'secureConnect' : 'connect', () => {
        opened = true;
        this.handshake().then(() => {
          this.attempts = 0;
          this.status = 'ready';
          this.connecting = null;
          for (const { args, p } of this.offline.splice(0)) this.write(args, p);
          this.emit('ready');
          resolve();
        }, (e: Error) => {
          this.connecting = null;
          if (this.listenerCount('error')) this.emit('error', e);
          socket.destroy();
          reject(e);
        });
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (e: Error) => {
        if (!opened) { this.connecting = null; reject(e); }
        if (!this.userClosed && this.listenerCount('error')) this.emit('error', e);
      });
      socket.on('close', () => this.onClose(socket));
    });
    // a failed attempt surfaces through 'error' and the retry; callers that await connect() see it too
    this.connecting.catch(() => {});
    return this.connecting;
  }

  /** AUTH, SELECT and CLIENT SETNAME before any queued command; sent directly (not via the offline queue). */
  private async handshake(): Promise<void> {
    const o = this.options;
    const direct = (args: Arg[]): Promise<Reply> => new Promise((resolve, reject) => this.write(args, { resolve, reject }));
    const check = (r: Reply, what: string): void => { if (r instanceof Error) throw new Error(`redis ${what}: ${r.message}`); };
    if (o.password) check(await direct(o.username ? ['AUTH', o.username, o.password] : ['AUTH', o.password]), 'AUTH');
    if (o.db) check(await direct(['SELECT', o.db]), 'SELECT');
    if (o.connectionName) check(await direct(['CLIENT', 'SETNAME', o.connectionName]), 'CLIENT SETNAME');
  }

  private onData(chunk: Buffer): void {
    this.parser.push(chunk);
    for (;;) {
      let r: { value: Reply } | undefined;
      try {
        r = this.parser.next();
      } catch (e) {
        this.socket?.destroy(e as Error);
        return;
      }
      if (!r) return;
      const p = this.inFlight.shift();
      if (!p) continue; // a reply nobody waits for (cannot happen without pub/sub)
      p.resolve(r.value);
    }
  }

  private onClose(socket: Socket): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.parser = new ReplyParser();
    const lost = this.inFlight.splice(0);
    for (const p of lost) p.reject(new ConnectionClosedError(CLOSED));
    this.emit('close');
    const delay = this.userClosed ? null : this.options.retryStrategy?.(++this.attempts);
    if (this.userClosed || delay === null || delay === undefined) {
      this.status = 'end';
      for (const { p } of this.offline.splice(0)) p.reject(new ConnectionClosedError(CLOSED));
      this.emit('end');
      return;
    }
    this.status = 'reconnecting';
    this.emit('reconnecting', delay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.userClosed) this.connect().catch(() => {});
    }, delay);
  }

  disconnect(reconnect = false): void {
    if (this.reconnectTimer) { clearTimeout(this.reconnectTimer); this.reconnectTimer = null; }
    this.userClosed = !reconnect;
    if (this.socket) {
      this.socket.destroy();
    } else if (this.status !== 'end') {
      this.status = 'end';
      for (const { p } of this.offline.splice(0)) p.reject(new ConnectionClosedError(CLOSED));
      this.emit('end');
    }
    this.connecting = null;
    if (reconnect) this.connect().catch(() => {});
  }

  async quit(): Promise<string> {
    if (this.status !== 'ready') { this.disconnect(); return 'OK'; }
    const ended = new Promise<void>((resolve) => this.once('end', () => resolve()));
    this.userClosed = true;
    const r = await this.call('QUIT').catch(() => 'OK');
    await ended;
    return String(r);
  }

  duplicate(overrides: Partial<RespClientOptions> = {}): RespClient {
    return new RespClient({ ...this.options, ...overrides });
  }

  // -- commands

  private write(args: Arg[], p: Pending): void {
    this.inFlight.push(p);
    this.socket!.write(encodeCommand(args));
  }

  /** Sends one command; a server error rejects with RedisReplyError. */
  call(...args: Arg[]): Promise<any> {
    return new Promise<Reply>((resolve, reject) => {
      const p: Pending = { resolve: (r) => (r instanceof Error ? reject(r) : resolve(r)), reject };
      if (this.status === 'ready' && this.socket) this.write(args, p);
      else if (this.status === 'end' && this.userClosed) reject(new ConnectionClosedError(CLOSED));
      else {
        this.offline.push({ args, p });
        if (this.status === 'wait' || this.status === 'end') this.connect().catch(() => {});
      }
    });
  }

  /** Several commands written at once; each reply (or its error) in order. */
  private batch(cmds: Arg[][]): Promise<Reply[]> {
    return Promise.all(cmds.map((c) => new Promise<Reply>((resolve, reject) => {
      const p: Pending = { resolve, reject };
      if (this.status === 'ready' && this.socket) this.write(c, p);
      else if (this.status === 'end' && this.userClosed) reject(new ConnectionClosedError(CLOSED));
      else {
        this.offline.push({ args: c, p });
        if (this.status === 'wait' || this.status === 'end') this.connect().catch(() => {});
      }
    })));
  }

  // -- Lua scripts

  defineCommand(name: string, d: { numberOfKeys: number; lua: string }): void {
    this.scripts.set(name, { sha: createHash('sha1').update(d.lua).digest('hex'), lua: d.lua, keys: d.numberOfKeys });
    // BullMQ checks `client[name]` to see whether a script is registered
    (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => this.runCommand(name, args);
  }

  private scriptArgs(name: string, args: unknown[], useSha: boolean): Arg[] {
    const s = this.scripts.get(name);
    if (!s) throw new Error(`redis: unknown script command '${name}'`);
    const flat = args.length === 1 && Array.isArray(args[0]) ? args[0] as unknown[] : args;
    const rest = flat.map((a): Arg => (Buffer.isBuffer(a) ? a : a === undefined || a === null ? '' : typeof a === 'number' ? a : String(a)));
    return [useSha ? 'EVALSHA' : 'EVAL', useSha ? s.sha : s.lua, s.keys, ...rest];
  }

  async runCommand(name: string, args: unknown[]): Promise<any> {
    try {
      return await this.call(...this.scriptArgs(name, args, true));
    } catch (e) {
      if (e instanceof RedisReplyError && e.message.startsWith('NOSCRIPT')) return this.call(...this.scriptArgs(name, args, false));
      throw e;
    }
  }

  multi(): RespTransaction { return new RespTransaction(this, true); }
  pipeline(): RespTransaction { return new RespTransaction(this, false); }

  /** Runs a transaction or pipeline; replies as [error, value] pairs like ioredis. */
  async execBatch(cmds: Arg[][], atomic: boolean): Promise<[Error | null, any][] | null> {
    if (!atomic) return (await this.batch(cmds)).map((r) => (r instanceof Error ? [r, null] : [null, r]));
    const replies = await this.batch([['MULTI'], ...cmds, ['EXEC']]);
    const queued = replies.slice(1, -1).find((r) => r instanceof Error);
    const exec = replies[replies.length - 1];
    if (exec instanceof Error) throw queued instanceof Error ? queued : exec;
    if (exec === null) return null;
    return (exec as Reply[]).map((r) => (r instanceof Error ? [r, null] : [null, r]));
  }

  scriptForBatch(name: string, args: unknown[]): Arg[] { return this.scriptArgs(name, args, false); }

  // -- the commands of IRedisClient

  async hgetall(key: string): Promise<Record<string, string>> {
    const flat = (await this.call('HGETALL', key)) as string[];
    const out: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
    return out;
  }
  hget(key: string, field: string): Promise<string | null> { return this.call('HGET', key, field); }
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]> { return this.call('HMGET', key, ...fields); }
  hset(key: string, data: Record<string, string | number> | string, ...rest: Arg[]): Promise<number> {
    if (typeof data === 'string') return this.call('HSET', key, data, ...rest);
    return this.call('HSET', key, ...Object.entries(data).flat());
  }
  hdel(key: string, ...fields: string[]): Promise<number> { return this.call('HDEL', key, ...fields); }
  hexists(key: string, field: string): Promise<number> { return this.call('HEXISTS', key, field); }
  get(key: string): Promise<string | null> { return this.call('GET', key); }
  set(key: string, value: string | number, o?: { PX?: number; EX?: number }): Promise<string | null> {
    const extra: Arg[] = o?.PX != null ? ['PX', o.PX] : o?.EX != null ? ['EX', o.EX] : [];
    return this.call('SET', key, value, ...extra);
  }
  del(...keys: string[]): Promise<number> { return keys.length ? this.call('DEL', ...keys) : Promise.resolve(0); }
  zrange(key: string, start: number, end: number, o?: { WITHSCORES?: boolean }): Promise<string[]> {
    return this.call('ZRANGE', key, start, end, ...(o?.WITHSCORES ? ['WITHSCORES'] : []));
  }
  zrevrange(key: string, start: number, end: number, o?: { WITHSCORES?: boolean }): Promise<string[]> {
    return this.call('ZREVRANGE', key, start, end, ...(o?.WITHSCORES ? ['WITHSCORES'] : []));
  }
  zcard(key: string): Promise<number> { return this.call('ZCARD', key); }
  zscore(key: string, member: string): Promise<string | null> { return this.call('ZSCORE', key, member); }
  lrange(key: string, start: number, end: number): Promise<string[]> { return this.call('LRANGE', key, start, end); }
  llen(key: string): Promise<number> { return this.call('LLEN', key); }
  ltrim(key: string, start: number, end: number): Promise<string> { return this.call('LTRIM', key, start, end); }
  lpos(key: string, value: string): Promise<number | null> { return this.call('LPOS', key, value); }
  smembers(key: string): Promise<string[]> { return this.call('SMEMBERS', key); }
  xadd(key: string, id: string, fields: Record<string, string | number>, o?: { MAXLEN?: number; approximate?: boolean }): Promise<string> {
    const trim: Arg[] = o?.MAXLEN != null ? ['MAXLEN', ...(o.approximate !== false ? ['~'] : []), o.MAXLEN] : [];
    return this.call('XADD', key, ...trim, id, ...Object.entries(fields).flat());
  }
  xread(streams: { key: string; id: string }[], o?: { BLOCK?: number; COUNT?: number }): Promise<any> {
    const opts: Arg[] = [...(o?.BLOCK != null ? ['BLOCK', o.BLOCK] : []), ...(o?.COUNT != null ? ['COUNT', o.COUNT] : [])];
    return this.call('XREAD', ...opts, 'STREAMS', ...streams.map((s) => s.key), ...streams.map((s) => s.id));
  }
  xtrim(key: string, strategy: 'MAXLEN', threshold: number, o?: { approximate?: boolean }): Promise<number> {
    return this.call('XTRIM', key, strategy, ...(o?.approximate !== false ? ['~'] : []), threshold);
  }
  bzpopmin(key: string, timeout: number): Promise<[string, string, string] | null> { return this.call('BZPOPMIN', key, timeout); }
  info(): Promise<string> { return this.call('INFO'); }
  clientSetName(name: string): Promise<any> { return this.call('CLIENT', 'SETNAME', name); }
  clientList(): Promise<string> { return this.call('CLIENT', 'LIST'); }
  clientInfo(): Promise<string> { return this.call('CLIENT', 'INFO'); }
  scan(cursor: string | number, o: { MATCH?: string; COUNT?: number } = {}): Promise<[string, string[]]> {
    return this.call('SCAN', cursor, ...(o.MATCH != null ? ['MATCH', o.MATCH] : []), ...(o.COUNT != null ? ['COUNT', o.COUNT] : []));
  }
  scanStream(o: { match: string; count?: number }): Readable {
    const client = this;
    // batches of keys, one per SCAN call, until the cursor comes back to 0 (ioredis' scanStream)
    let cursor = '0';
    let done = false;
    return new Readable({
      objectMode: true,
      read(this: Readable) {
        if (done) { this.push(null); return; }
        client.scan(cursor, { MATCH: o.match, ...(o.count ? { COUNT: o.count } : {}) }).then(([next, keys]) => {
          cursor = next;
          done = next === '0';
          this.push(keys);
        }, (e: Error) => this.destroy(e));
      },
    });
  }
}

/** MULTI/EXEC transaction or pipeline with the subset of commands BullMQ queues in them. */
export class RespTransaction {
  private cmds: Arg[][] = [];
  constructor(private readonly client: RespClient, private readonly atomic: boolean) {}
  private add(...args: Arg[]): this { this.cmds.push(args); return this; }
  hgetall(key: string): this { return this.add('HGETALL', key); }
  hset(key: string, data: Record<string, string | number>): this { return this.add('HSET', key, ...Object.entries(data).flat()); }
  hscan(key: string, cursor: string | number, o?: { COUNT?: number }): this { return this.add('HSCAN', key, cursor, ...(o?.COUNT != null ? ['COUNT', o.COUNT] : [])); }
  smembers(key: string): this { return this.add('SMEMBERS', key); }
  sscan(key: string, cursor: string | number, o?: { COUNT?: number }): this { return this.add('SSCAN', key, cursor, ...(o?.COUNT != null ? ['COUNT', o.COUNT] : [])); }
  zrange(key: string, start: number, end: number): this { return this.add('ZRANGE', key, start, end); }
  lrange(key: string, start: number, end: number): this { return this.add('LRANGE', key, start, end); }
  llen(key: string): this { return this.add('LLEN', key); }
  del(...keys: string[]): this { return this.add('DEL', ...keys); }
  runCommand(name: string, args: unknown[]): this { this.cmds.push(this.client.scriptForBatch(name, args)); return this; }
  async exec(): Promise<[Error | null, any][] | null> {
    const r = await this.client.execBatch(this.cmds, this.atomic);
    // ioredis turns HGETALL replies into objects inside pipelines too
    return r && r.map(([e, v], i) => [e, !e && this.cmds[i][0] === 'HGETALL' ? pairsToObject(v as string[]) : v]);
  }
}

function pairsToObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
}
