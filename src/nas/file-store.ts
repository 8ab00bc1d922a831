// RunStore on a folder (Node): state.json, checkpoints/<name>.safetensors, and the artifacts, every
// write atomic (temp file + rename, src/io/fs.ts), so a run killed at any moment resumes from the last
// complete write.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/fs.js';
import { sealJson, parseSealedJson } from '../io/sealed-json.js';
import { saveMethodCheckpoint, loadMethodCheckpoint } from '../search/checkpoints.js';
import type { BaseMethod } from '../search/method.js';
import type { RunStore } from './store.js';

export class FileStore implements RunStore {
  constructor(readonly location: string) {
    mkdirSync(join(location, 'checkpoints'), { recursive: true });
  }

  private checkpointPath(name: string): string { return join(this.location, 'checkpoints', `${name}.safetensors`); }

  checkpointLocation(name: string): string { return this.checkpointPath(name); }

  async readState<T>(): Promise<T | null> {
    const path = join(this.location, 'state.json');
    if (!existsSync(path)) return null;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`${path}: not a readable run state (${(e as Error).message})`);
    }
    const { value, checksum } = parseSealedJson<T>(text, path);
    if (checksum !== 'verified') throw new Error(`${path}: no SHA-256 checksum: not written by this gmnas, or damaged (start over in a new --out folder)`);
    return value;
  }

  async writeState(state: unknown): Promise<void> {
    writeFileAtomic(join(this.location, 'state.json'), sealJson(state as object));
  }

  hasCheckpoint(name: string): boolean { return existsSync(this.checkpointPath(name)); }

  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    await saveMethodCheckpoint(this.checkpointPath(name), method, { gmnas_checkpoint: name, gmnas_progress: JSON.stringify(info) });
  }

  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> {
    const path = this.checkpointPath(name);
    // a run's own checkpoints are always sealed: one without its checksum is damaged
    const metadata = loadMethodCheckpoint(path, method, { requireChecksum: true });
    if (metadata.gmnas_progress === undefined) throw new Error(`${path}: not a gmnas search checkpoint (no 'gmnas_progress' metadata)`);
    return JSON.parse(metadata.gmnas_progress) as T;
  }

  async writeText(name: string, text: string): Promise<void> {
    writeFileAtomic(join(this.location, name), text);
  }
}
