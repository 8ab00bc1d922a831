#!/usr/bin/env node
// gmnas command line. The TypeScript sources are compiled to dist/ by `npm install` (postinstall)
// or `npm run build`; this file only finds that build and hands over.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

process.env.XDG_RUNTIME_DIR ??= '/tmp'; // silences a Mesa warning on machines without a session bus
const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, 'dist/src/cli/main.js');
if (!existsSync(entry)) {
  console.error('gmnas: dist/ is missing — run `npm install` (or `npm run build`) in ' + here + ' first.');
  process.exit(2);
}
const { main } = await import(pathToFileURL(entry).href);
const code = await main(process.argv.slice(2));
// Exit explicitly: a live WebGPU device or worker pool would otherwise keep the process alive.
process.exit(code ?? 0);
