// The run store of a queued search (Node): checkpoints live in a folder every machine mounts (--store:
// NFS, SMB, a cloud disk; by default the run folder), the run state and artifacts in the coordinator's
// run folder. Each checkpoint has a SHA-256 sidecar (`<name>.safetensors.sha256`) checked on every read,
// so a torn copy on a network file system or a stale cache is an error naming the file, never a
// silently different leaf.
//
// Write order, so a kill at any point leaves a readable pair: the new checkpoint goes to a staging file,
// the sidecar is rewritten (atomically) to list the new hash and the previous one, then the staging file
// is renamed over the checkpoint. Between the two steps the old checkpoint still matches a listed hash;
// after them the new one does.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/fs.js';
import { saveMethodCheckpoint, loadMethodCheckpoint } from '../search/checkpoints.js';
import type { BaseMethod } from '../search/method.js';
import type { RunStore } from '../nas/store.js';

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Fail at once, naming the path, when a worker cannot see or write the shared folder. */
export function checkStoreVisible(dir: string, what = 'store'): void {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new Error(`${what} ${dir} is not visible on this machine (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); mount the shared folder there or pass --store`);
  }
  if (!isDir) throw new Error(`${what} ${dir} is not a folder`);
  try {
    accessSync(dir, fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    throw new Error(`${what} ${dir} is not readable and writable by this process`);
  }
}

export class SharedStore implements RunStore {
  /**
   * @param runDir the coordinator's run folder (state.json, result.json, report.html); null in a worker,
   *   which only reads and writes checkpoints
   * @param checkpointRoot the folder holding `checkpoints/` (inside the shared store)
   */
  constructor(private readonly runDir: string | null, readonly checkpointRoot: string) {}

  get location(): string | null { return this.runDir; }

  private path(name: string): string { return join(this.checkpointRoot, 'checkpoints', `${name}.safetensors`); }

  private need(): string {
    if (this.runDir === null) throw new Error('shared store: a worker has no run state (coordinator only)');
    return this.runDir;
  }

  async readState<T>(): Promise<T | null> {
    const path = join(this.need(), 'state.json');
    if (!existsSync(path)) return null;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch (e) {
      throw new Error(`${path}: not a readable run state (${(e as Error).message})`);
    }
  }

  async writeState(state: unknown): Promise<void> { writeFileAtomic(join(this.need(), 'state.json'), JSON.stringify(state, null, 1)); }

  async writeText(name: string, text: string): Promise<void> { writeFileAtomic(join(this.need(), name), text); }

  hasCheckpoint(name: string): boolean { return existsSync(this.path(name)); }

  private listedHashes(path: string): string[] {
    const side = `${path}.sha256`;
    if (!existsSync(side)) return [];
    return readFileSync(side, 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((h) => /^[0-9a-f]{64}$/.test(h));
  }

  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    const path = this.path(name);
    const staging = `${path}.staging`;
    await saveMethodCheckpoint(staging, method, { gmnas_checkpoint: name, gmnas_progress: JSON.stringify(info) });
    const hash = sha256Hex(readFileSync(staging));
    const previous = existsSync(path) ? sha256Hex(readFileSync(path)) : null;
    const file = `${name}.safetensors`;
    writeFileAtomic(`${path}.sha256`, `${hash}  ${file}\n${previous && previous !== hash ? `${previous}  ${file} (previous)\n` : ''}`);
    renameSync(staging, path);
  }

  /** Verifies the file's SHA-256 against its sidecar, then restores `method`. */
  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> {
    const path = this.path(name);
    const listed = this.listedHashes(path);
    if (!listed.length) throw new Error(`${path}.sha256: missing or empty; the checkpoint cannot be verified (written by a local run? resume it without --queue)`);
    const actual = sha256Hex(readFileSync(path));
    if (!listed.includes(actual)) {
      throw new Error(`${path}: SHA-256 ${actual.slice(0, 16)}… does not match ${path}.sha256 (${listed[0].slice(0, 16)}…): the copy is torn or corrupt`);
    }
    const metadata = loadMethodCheckpoint(path, method);
    if (metadata.gmnas_progress === undefined) throw new Error(`${path}: not a gmnas search checkpoint (no 'gmnas_progress' metadata)`);
    return JSON.parse(metadata.gmnas_progress) as T;
  }
}
