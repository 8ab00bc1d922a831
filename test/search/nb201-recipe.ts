// The deterministic tensor values of scripts/goldens/make_nb201_goldens.py, so tests can rebuild the
// golden networks without the JSON carrying their weights, plus readers for the golden files.
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Module } from '../../src/engine/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A golden file from test/goldens (read from the source tree; dist/ has no JSON). */
export function readGolden<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(root, 'test', 'goldens', name), 'utf8')) as T;
}

export interface GoldenTensor { shape: number[]; data: number[] }

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(s)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h >>>= 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** u_i in [-1, 1), as the generator's unit_values (exact in float64). */
export function unitValues(name: string, n: number): number[] {
  const seed = fnv1a(name);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(fmix32((Math.imul(i, 0x9e3779b9) + seed) >>> 0) / 4294967296 * 2 - 1);
  return out;
}

/** The generator's recipe_tensor: values by role, rounded to float32. */
export function recipeTensor(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const u = unitValues(name, n);
  let v: number[];
  if (name.endsWith('running_mean')) v = u.map((x) => 0.1 * x);
  else if (name.endsWith('running_var')) v = u.map((x) => 1 + 0.2 * x);
  else if (name.endsWith('bias')) v = u.map((x) => 0.1 * x);
  else if (name.endsWith('weight') && shape.length === 1) v = u.map((x) => 1 + 0.2 * x);
  else if (name.endsWith('weight')) { const fanIn = n / shape[0]; v = u.map((x) => x / Math.sqrt(fanIn)); }
  else throw new Error(`no recipe for ${name}`);
  return Float32Array.from(v);
}

/** Scaled unit values as float32 (inputs, α, Gumbel noise). */
export function scaledValues(name: string, n: number, scale: number): Float32Array {
  return Float32Array.from(unitValues(name, n).map((x) => scale * x));
}

/** Overwrite every parameter and buffer of a module with the recipe values. */
export function fillRecipe(m: Module): void {
  for (const [name, t] of m.stateDict()) t.backend.write(t.storage, recipeTensor(name, t.shape));
}
