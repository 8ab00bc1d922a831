// The run store of a search in a page or worker: everything in memory, checkpoints kept as the very
// bytes the CLI's FileStore writes to checkpoints/node-<id>.safetensors (the space's supernet metadata,
// the method state and the node's progress in the safetensors metadata, sealed with its SHA-256), so a
// checkpoint downloaded from a page opens with the same tools as one from `gmnas search --out`.
import { encodeSafetensors, decodeSafetensors, sealSafetensors } from '../io/safetensors.js';
import type { BaseMethod, MethodStateMeta } from '../search/method.js';
import type { RunStore } from '../nas/store.js';

export interface BrowserRunStoreHooks {
  /** after every saved run state (every epoch, split and leaf) */
  onStateSaved?: (state: unknown) => void | Promise<void>;
}

export class BrowserRunStore implements RunStore {
  readonly location = null;
  private state: string | null = null;
  private readonly checkpoints = new Map<string, Uint8Array>();
  readonly texts = new Map<string, string>();

  constructor(private readonly hooks: BrowserRunStoreHooks = {}) {}

  async readState<T>(): Promise<T | null> { return this.state === null ? null : JSON.parse(this.state) as T; }

  async writeState(state: unknown): Promise<void> {
    this.state = JSON.stringify(state);
    await this.hooks.onStateSaved?.(state);
  }

  hasCheckpoint(name: string): boolean { return this.checkpoints.has(name); }

  async saveCheckpoint(name: string, method: BaseMethod, info: unknown): Promise<void> {
    const { tensors, meta } = await method.exportState();
    const metadata = method.space.supernetMetadata(method.supernet, { gmnas_checkpoint: name, gmnas_progress: JSON.stringify(info), method_state: JSON.stringify(meta) });
    this.checkpoints.set(name, sealSafetensors(encodeSafetensors(tensors, metadata), `checkpoint '${name}'`));
  }

  async loadCheckpoint<T>(name: string, method: BaseMethod): Promise<T> {
    const bytes = this.checkpoints.get(name);
    if (!bytes) throw new Error(`run store: no checkpoint '${name}'`);
    const where = `checkpoint '${name}'`;
    const { tensors, metadata } = decodeSafetensors(bytes, where, { requireChecksum: true });
    if (metadata.format !== method.space.checkpointFormats.supernet || metadata.method_state === undefined || metadata.gmnas_progress === undefined) {
      throw new Error(`${where}: not a gmnas search checkpoint`);
    }
    method.importState(tensors, JSON.parse(metadata.method_state) as MethodStateMeta, where);
    return JSON.parse(metadata.gmnas_progress) as T;
  }

  /** The safetensors bytes of a checkpoint (as FileStore would write them), or null. */
  checkpointBytes(name: string): Uint8Array | null {
    return this.checkpoints.get(name) ?? null;
  }

  async writeText(name: string, text: string): Promise<void> { this.texts.set(name, text); }
}
