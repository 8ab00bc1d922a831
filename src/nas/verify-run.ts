// `verify RUN_DIR`: checks a run folder (a search's or a `train`'s) file by file without running
// anything — every JSON result's and checkpoint's SHA-256, that checkpoints hold finite values, that
// every checkpoint state.json and result.json refer to exists — and reports each finding. A run started
// with --queue --store keeps its checkpoints in the shared store (queue-store.json says where): those are
// checked there, and named by their absolute path. Node only.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { readFileBytes, readTextFile } from '../io/fs.js';
import { decodeSafetensors, assertFiniteTensors } from '../io/safetensors.js';
import { parseSealedJson } from '../io/sealed-json.js';
import { checkpointName } from './phases.js';
import { runCheckpointRoot, STORE_RECORD } from './run-location.js';

export type FindingLevel = 'ok' | 'warning' | 'error';
export interface Finding { level: FindingLevel; file: string; message: string }

/** A temporary file of an atomic write (src/io/fs.ts) that a crash left behind. */
const TEMP_FILE = /\.tmp-\d+-\d+-\d+$/;

export function verifyRunFolder(dir: string): Finding[] {
  const root = resolve(dir);
  if (!existsSync(root)) throw new Error(`${dir}: no such folder`);
  if (!statSync(root).isDirectory()) throw new Error(`${dir}: not a folder (expected a run's output folder)`);
  const findings: Finding[] = [];
  // files in the run folder are named relative to it, files in a shared store by their absolute path
  const label = (path: string): string => { const rel = relative(root, path); return rel.startsWith('..') || isAbsolute(rel) ? path : rel || '.'; };
  const add = (level: FindingLevel, path: string, message: string): void => { findings.push({ level, file: label(path), message }); };
  const json = new Map<string, unknown>();
  const files = walk(root);
  if (!files.some((f) => /(^|\/)(state|result)\.json$/.test(relative(root, f)))) {
    throw new Error(`${dir}: neither state.json nor result.json; not a gmnas run folder`);
  }
  let ckRoot = root;
  try {
    ckRoot = runCheckpointRoot(root);
  } catch (e) {
    add('error', join(root, STORE_RECORD), (e as Error).message.replace(`${join(root, STORE_RECORD)}: `, ''));
  }
  if (ckRoot !== root && label(ckRoot) === ckRoot) { // outside the run folder (inside, the walk found them)
    const ckDir = join(ckRoot, 'checkpoints');
    if (existsSync(ckDir) && statSync(ckDir).isDirectory()) files.push(...walk(ckDir));
    else add('error', ckDir, `not visible: ${STORE_RECORD} says the run's checkpoints are in the shared store there; mount it at that path`);
  }
  for (const path of files) {
    const rel = label(path);
    if (TEMP_FILE.test(rel)) { add('warning', path, 'temporary file of a write a crash interrupted (safe to delete)'); continue; }
    try {
      if (rel.endsWith('.json')) {
        const { value, checksum } = parseSealedJson<unknown>(readTextFile(path), path);
        json.set(rel, value);
        if (checksum === 'verified') add('ok', path, 'SHA-256 matches');
        else add(/^(state|result)\.json$/.test(rel) ? 'warning' : 'ok', path, 'no checksum (written by an older gmnas or another tool)');
      } else if (rel.endsWith('.safetensors')) {
        const { tensors, checksum } = decodeSafetensors(readFileBytes(path, 'checkpoint'), path);
        assertFiniteTensors(tensors, path);
        if (checksum === 'verified') add('ok', path, `SHA-256 matches, ${tensors.size} tensors, all finite`);
        else add('warning', path, `no checksum (written by an older gmnas or another tool); ${tensors.size} tensors, all finite`);
      }
    } catch (e) {
      add('error', path, (e as Error).message.replace(`${path}: `, ''));
    }
  }
  // references: what a resume (state.json) or `rank` (result.json) will need
  const ckpt = (node: number): string => join(ckRoot, 'checkpoints', `${checkpointName(node)}.safetensors`);
  const state = json.get('state.json') as { tree?: { nodes?: { id: number; children: number[] }[] }; progress?: Record<string, unknown>; leaves?: Record<string, unknown> } | undefined;
  const result = json.get('result.json') as { tree?: { nodes?: { id: number; children: number[] }[] }; failedLeaves?: { node: number }[] } | undefined;
  if (state && !result) {
    for (const n of state.tree?.nodes ?? []) {
      if (n.children.length || state.leaves?.[n.id] || !(String(n.id) in (state.progress ?? {}))) continue;
      if (!existsSync(ckpt(n.id))) add('error', ckpt(n.id), `missing: state.json records node ${n.id}'s progress and the resume needs it (resume with --retrain-missing to rebuild it)`);
    }
  }
  if (result) {
    const failed = new Set((result.failedLeaves ?? []).map((f) => f.node));
    for (const n of result.tree?.nodes ?? []) {
      if (n.children.length || failed.has(n.id)) continue;
      if (!existsSync(ckpt(n.id))) add('warning', ckpt(n.id), `missing: leaf ${n.id}'s checkpoint (\`rank\` needs it)`);
    }
  }
  return findings;
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}
