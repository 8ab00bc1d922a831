// The autotune cache file (Node): where WebGPU kernel choices persist between runs, so a tuned
// (kernel, shape, adapter) is timed once per machine. The format and the merging live in
// src/engine/webgpu/autotune.ts; this is the file access the browser bundle must not carry.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { AutotuneCacheStore } from '../engine/webgpu/autotune.js';
import type { WebGpuBackendOptions } from '../engine/webgpu/webgpu-backend.js';
import { writeFileAtomic } from './fs.js';

/** $XDG_CACHE_HOME/gmnas/autotune.json, or ~/.cache/gmnas/autotune.json (XDG: a relative
 *  XDG_CACHE_HOME is ignored). */
export function defaultAutotuneCachePath(env: Record<string, string | undefined> = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'gmnas', 'autotune.json');
}

/** The cache at `path`: a missing file reads as none; writes are atomic (temp file + rename). */
export function autotuneCacheFile(path: string = defaultAutotuneCachePath()): AutotuneCacheStore {
  return {
    location: path,
    load(): string | null {
      try {
        return readFileSync(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new Error(`cannot read it (${(e as Error).message})`);
      }
    },
    save(text: string): void {
      writeFileAtomic(path, text);
    },
  };
}

/** Backend options for a Node command: autotuning on or off and, when on, the default cache file. */
export function autotuneBackendOptions(autotune: boolean): Pick<WebGpuBackendOptions, 'autotune' | 'autotuneCache'> {
  return { autotune, autotuneCache: autotune ? autotuneCacheFile() : null };
}
