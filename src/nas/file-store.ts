// RunStore on a folder (Node): state.json, checkpoints/<name>.safetensors, and the artifacts, every
// write atomic (temp file + rename, src/io/fs.ts), so a run killed at any moment resumes from the last
// complete write.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/fs.js';
import { saveMethodCheckpoint, loadMethodCheckpoint } from '../search/checkpoints.js';
import type { BaseMethod } from '../search/method.js';
import type { RunStore } from './store.js';

export class FileStore implements RunStore {
  constructor(readonly location: string) {
    mkdirSync(join(location, 'checkpoints'), { recursive: true });
  }

  private checkpointPath(name: string): string { return join(this.location, 'checkpoints', `${name}.safetensors`); }

  async readState<T>(): Promise<T | null> {
    const path = join(this.location, 'state.json');
    if (!existsSync(path)) return null;
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as T;
    } catch (e) {
      throw new Error(`${path}: not a readable run state (${(e as Error).message})`);
    }
  }

  async writeState(state: unknown): Promise<void> {
    writeFileAtomic(join(this.location, 'state.json'), JSON.stringify(state, null, 1));
  }

  hasCheckpoint(name: string): boolean { return existsSync(this.checkpointPath(name)); }

  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    await saveMethodCheckpoint(this.checkpointPath(name), method, { gmnas_checkpoint: name, gmnas_progress: JSON.stringify(info) });
  }

  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> {
    const path = this.checkpointPath(name);
    const metadata = loadMethodCheckpoint(path, method);
    if (metadata.gmnas_progress === undefined) throw new Error(`${path}: not a gmnas search checkpoint (no 'gmnas_progress' metadata)`);
    return JSON.parse(metadata.gmnas_progress) as T;
  }

  async writeText(name: string, text: string): Promise<void> {
    writeFileAtomic(join(this.location, name), text);
  }
}
