// Where a search keeps its state between phases: the run state (JSON), every node's method checkpoint
// and the final artifacts. The Node implementation (file-store.ts) writes files atomically so a killed
// run resumes; MemoryStore keeps everything in memory (browsers, tests, runs without --out).
import type { BaseMethod } from '../search/method.js';
import { encodeSafetensors, decodeSafetensors, sealSafetensors, assertFiniteTensors } from '../io/safetensors.js';
import type { MethodStateMeta } from '../search/method.js';

export interface RunStore {
  /** a folder name for messages and for worker processes (null: in memory) */
  readonly location: string | null;
  readState<T>(): Promise<T | null>;
  writeState(state: unknown): Promise<void>;
  hasCheckpoint(name: string): boolean;
  /** where a checkpoint lives, for messages (a file path); absent: named by `name` */
  checkpointLocation?(name: string): string;
  /** `info` (JSON) travels inside the checkpoint: the node's progress, so a checkpoint and the
   *  progress it belongs to can never disagree, whichever write a kill interrupted */
  saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void>;
  /** restores `method` and returns the checkpoint's `info` */
  loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T>;
  /** a text artifact (result.json, report.html) */
  writeText(name: string, text: string): Promise<void>;
}

export class MemoryStore implements RunStore {
  readonly location = null;
  private state: string | null = null;
  private readonly checkpoints = new Map<string, { bytes: Uint8Array; meta: MethodStateMeta; info: string }>();
  readonly texts = new Map<string, string>();

  async readState<T>(): Promise<T | null> { return this.state === null ? null : JSON.parse(this.state) as T; }
  async writeState(state: unknown): Promise<void> { this.state = JSON.stringify(state); }
  hasCheckpoint(name: string): boolean { return this.checkpoints.has(name); }
  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    // through the same encoding as a file, so both stores restore exactly the same values
    const { tensors, meta } = await method.exportState();
    this.checkpoints.set(name, { bytes: sealSafetensors(encodeSafetensors(tensors), `checkpoint '${name}'`), meta, info: JSON.stringify(info) });
  }
  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> {
    const c = this.checkpoints.get(name);
    if (!c) throw new Error(`run store: no checkpoint '${name}'`);
    const { tensors } = decodeSafetensors(c.bytes, `checkpoint '${name}'`, { requireChecksum: true });
    assertFiniteTensors(tensors, `checkpoint '${name}'`);
    method.importState(tensors, c.meta, `checkpoint '${name}'`);
    return JSON.parse(c.info) as T;
  }
  async writeText(name: string, text: string): Promise<void> { this.texts.set(name, text); }
}
