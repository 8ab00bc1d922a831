#!/usr/bin/env node
// A small static file server for the browser demo: `npm run serve [-- --port 8080]`, then open the
// printed address (http://127.0.0.1:8080/web/). It serves the repository's web/ (the page), dist/
// (the browser bundle gmnas.browser.js, the search worker gmnas.worker.js, their source maps), data/
// (the embedded Fashion-MNIST subset the page loads) and build/ (gmnas.wasm, for pages that want the
// module as a file) — nothing else — on 127.0.0.1 only, with the MIME types browsers insist on for ES
// modules (text/javascript) and streaming Wasm compilation (application/wasm). The .gz data files go
// out as application/gzip without Content-Encoding, so the page gets the compressed bytes it checks
// against SHA256SUMS and unpacks itself (DecompressionStream).
// Every response is cross-origin isolated (Cross-Origin-Opener-Policy: same-origin,
// Cross-Origin-Embedder-Policy: require-corp): SharedArrayBuffer, which a threaded Wasm backend needs,
// exists only in such pages.
//   node scripts/serve.mjs [--port N] [--host ADDR] [--root DIR]
// --port 0 picks a free port. The first line printed is always `serving http://HOST:PORT/web/`
// (the browser test reads it). No caching, so a rebuilt bundle is picked up by a reload.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, dirname, extname, resolve, sep, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.wgsl': 'text/wgsl; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip',
};
// files without an extension that are text (data/fashion-mnist/SHA256SUMS, LICENSE)
const TEXT_NAMES = new Set(['SHA256SUMS', 'LICENSE']);
const SERVED_DIRS = ['web', 'dist', 'build', 'data'];
/** cross-origin isolation on every response (see the header comment) */
const ISOLATION = {
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
};

function usage(msg) {
  if (msg) console.error(`serve: ${msg}`);
  console.error('usage: node scripts/serve.mjs [--port N] [--host ADDR] [--root DIR]');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { port: 8080, host: '127.0.0.1', root: join(dirname(fileURLToPath(import.meta.url)), '..') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--port' || flag === '-p') {
      const v = value();
      const port = Number(v);
      if (!/^\d+$/.test(v) || port > 65535) usage(`--port: expected an integer 0..65535, got '${v}'`);
      o.port = port;
    } else if (flag === '--host') o.host = value();
    else if (flag === '--root') o.root = resolve(value());
    else if (flag === '--help' || flag === '-h') usage();
    else usage(`unknown argument '${a}'`);
  }
  return o;
}

/** The file a URL path names, or null when it is outside the served folders. */
function fileFor(root, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) return null;
  const abs = resolve(root, '.' + path);
  const top = abs.slice(root.length + 1).split(sep)[0];
  if (!abs.startsWith(root + sep) || !SERVED_DIRS.includes(top)) return null;
  return abs;
}

export function startServer({ port, host, root }) {
  root = resolve(root);
  const server = createServer((req, res) => {
    const send = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...ISOLATION, ...headers });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { allow: 'GET, HEAD' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/' || url.pathname === '/web') return send(302, 'see /web/\n', { location: '/web/' + url.search });
    let file = fileFor(root, url.pathname);
    if (!file) return send(404, 'not found\n');
    let st;
    try {
      st = statSync(file);
      if (st.isDirectory()) {
        if (!url.pathname.endsWith('/')) return send(301, 'moved\n', { location: url.pathname + '/' + url.search });
        file = join(file, 'index.html');
        st = statSync(file);
      }
    } catch {
      return send(404, 'not found\n');
    }
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? (TEXT_NAMES.has(basename(file)) ? 'text/plain; charset=utf-8' : 'application/octet-stream'),
      'content-length': st.size,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...ISOLATION,
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  return new Promise((resolveStart, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolveStart(server));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  try {
    const server = await startServer(o);
    const addr = server.address();
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    console.log(`serving http://${shown}:${addr.port}/web/`);
    console.log(`  (${SERVED_DIRS.map((d) => d + '/').join(', ')} of ${o.root}; Ctrl-C stops)`);
    const stop = () => { server.close(() => process.exit(0)); server.closeAllConnections(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (e) {
    console.error(`serve: cannot listen on ${o.host}:${o.port}: ${e.message}`);
    process.exit(1);
  }
}
