// The run store of a queued search (Node): checkpoints live in a folder every machine mounts (--store:
// NFS, SMB, a cloud disk; by default the run folder), the run state and artifacts in the coordinator's
// run folder. Checkpoints and state.json are sealed as in a local run (src/nas/file-store.ts): each
// carries its SHA-256 (the safetensors metadata entry `gmnas_sha256`, state.json's `sha256` key), checked
// on every read, so a torn copy on a network file system or a stale cache is an error naming the file,
// never a silently different leaf. Every write is atomic (temp file + rename).
import { existsSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/fs.js';
import { sealJson } from '../io/sealed-json.js';
import { readSealedState, saveSearchCheckpoint, loadSearchCheckpoint } from '../nas/file-store.js';
import type { BaseMethod } from '../search/method.js';
import type { RunStore } from '../nas/store.js';

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

  async readState<T>(): Promise<T | null> { return readSealedState<T>(join(this.need(), 'state.json')); }

  async writeState(state: unknown): Promise<void> { writeFileAtomic(join(this.need(), 'state.json'), sealJson(state as object)); }

  async writeText(name: string, text: string): Promise<void> { writeFileAtomic(join(this.need(), name), text); }

  hasCheckpoint(name: string): boolean { return existsSync(this.path(name)); }

  checkpointLocation(name: string): string { return this.path(name); }

  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    await saveSearchCheckpoint(this.path(name), name, method, info);
  }

  /** Verifies the file's SHA-256 (a checkpoint without one is damaged), then restores `method`. */
  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> { return loadSearchCheckpoint<T>(this.path(name), method); }
}
