// A private redis-server for a test file: loopback, a free port, its own temp folder, optional password
// and append-only persistence; stop() and restart() (same port and folder, so a persisted queue comes
// back). Without redis-server on PATH the caller skips with a printed reason — except under CI=true,
// where .ci/run installs it and its absence is a failure.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  /** stop the server and remove its folder */
  dispose(): Promise<void>;
}

/** null (after printing why) when redis-server is not installed and this is not CI. */
export function redisAvailable(): boolean {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return true;
  if (process.env.CI === 'true' || process.env.CI === '1') {
    throw new Error('redis-server is not installed; CI must install it (.ci/run installs Debian\'s redis-server)');
  }
  console.log('  [redis-server not found: the several-machines tests are SKIPPED (install redis-server to run them)]');
  return false;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function waitForPort(port: number, ms: number): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => { sock.destroy(); resolve(); });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() - t0 > ms) reject(new Error(`redis-server did not listen on ${port} within ${ms} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startRedis(o: { password?: string; persistent?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gmnas-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no',
    '--appendonly', o.persistent ? 'yes' : 'no', '--appendfsync', 'always', '--loglevel', 'warning',
    ...(o.password ? ['--requirepass', o.password] : [])];
  let child: ChildProcess | null = null;
  let log = '';
  const start = async (): Promise<void> => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => { log += d; });
    child.stderr!.on('data', (d) => { log += d; });
    try {
      await waitForPort(port, 10_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${log}`);
    }
  };
  const stop = async (): Promise<void> => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM'); // redis-server writes its append-only file and exits
    await exited;
    child = null;
  };
  await start();
  return {
    port, dir,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: async () => { await stop(); await start(); },
    dispose: async () => { await stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
