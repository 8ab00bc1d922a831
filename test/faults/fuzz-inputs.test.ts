// Seeded mutations of valid inputs — genotype strings, CSV score files and benchmark tables, IDX and
// CIFAR dataset files, safetensors checkpoints — must each give a correct result or a clear error
// naming its source: never a TypeError/RangeError from deep inside (a stack trace for the user) and
// never a hang. A handful also go through the CLI, whose stderr must hold no stack trace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../src/data/rng.js';
import { parseGenotype, formatGenotype, allGenotypes } from '../../src/spaces/nb201/genotype.js';
import { parseCsv } from '../../src/io/csv.js';
import { readScoreRows } from '../../src/io/score-rows.js';
import { loadBenchTable } from '../../src/io/bench-table-file.js';
import { loadDataset } from '../../src/data/load.js';
import { encodeSafetensors, decodeSafetensors, sealSafetensors } from '../../src/io/safetensors.js';
import { idxFile } from '../helpers/data-files.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gmnas-fuzz-'));
const rng = new Rng(2019);
const G = allGenotypes().slice(0, 40).map((g) => formatGenotype(g));
const ALPHABET = '|~+,._-0123456789abcdefghijklmnopqrstuvwxyz "\n\r\t\\\u00e9';

/** One random edit: delete, insert, replace or duplicate a span; swap two bytes. */
function mutate(s: string): string {
  const at = rng.int(s.length + 1), len = 1 + rng.int(4);
  switch (rng.int(5)) {
    case 0: return s.slice(0, at) + s.slice(at + len);
    case 1: return s.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + s.slice(at);
    case 2: return s.slice(0, at) + ALPHABET[rng.int(ALPHABET.length)] + s.slice(at + 1);
    case 3: return s.slice(0, at) + s.slice(at, at + len).repeat(2) + s.slice(at + len);
    default: { const b = rng.int(s.length + 1); const c = s.split(''); [c[at], c[b]] = [c[b], c[at]]; return c.join(''); }
  }
}
function mutateBytes(b: Uint8Array): Uint8Array {
  const out = Uint8Array.from(b);
  switch (rng.int(3)) {
    case 0: return out.subarray(0, rng.int(out.length)); // truncated
    case 1: { for (let k = 0; k < 1 + rng.int(3); k++) out[rng.int(out.length)] ^= 1 << rng.int(8); return out; }
    default: { const extra = new Uint8Array(1 + rng.int(300)).map(() => rng.int(256)); const o = new Uint8Array(out.length + extra.length); o.set(out); o.set(extra, out.length); return o; }
  }
}

/** An error a user can act on: an Error whose message names `source`, not an engine bug. */
function assertClear(e: unknown, source: string, input: string): void {
  assert.ok(e instanceof Error, `not an Error for ${input}`);
  const err = e as Error;
  assert.ok(!(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError), `${err.name}: ${err.message} for ${input}`);
  assert.ok(err.message.includes(source), `'${err.message}' does not name ${source} (input ${input})`);
}

const counts = { cases: 0, ok: 0, refused: 0 };

test('genotype strings: 120 mutations parse to the genotype they spell, or are refused naming the problem', () => {
  for (let i = 0; i < 120; i++) {
    let s = G[rng.int(G.length)];
    for (let k = 0, n = 1 + rng.int(3); k < n; k++) s = mutate(s);
    counts.cases++;
    try {
      const g = parseGenotype(s);
      counts.ok++;
      // a success is exact: its canonical text parses back to itself, and names the same ops in order
      assert.equal(parseGenotype(formatGenotype(g)), g);
      assert.equal(s.replace(/\s/g, '').split(/[|+]/).filter(Boolean).map((t) => t.split('~')[0]), formatGenotype(g).split(/[|+]/).filter(Boolean).map((t) => t.split('~')[0]), s);
    } catch (e) {
      counts.refused++;
      assertClear(e, 'genotype', JSON.stringify(s));
    }
  }
});

test('CSV score files and benchmark tables: 120 mutations give finite scores for valid genotypes, or an error naming file:line', () => {
  const valid = `arch_str,val_accuracy,cifar10_test\n${G.slice(0, 8).map((g, i) => `${g},${10 + i}.5,${90 - i}`).join('\n')}\n`;
  for (let i = 0; i < 120; i++) {
    let text = valid;
    for (let k = 0, n = 1 + rng.int(4); k < n; k++) text = mutate(text);
    const file = join(dir, `scores-${i}.csv`);
    writeFileSync(file, text);
    counts.cases++;
    try {
      const { scores } = readScoreRows(parseCsv(text, file), 'val_accuracy', { columnFlag: '--pred-column', canonical: (s) => formatGenotype(parseGenotype(s)) });
      for (const [g, v] of scores) { assert.ok(Number.isFinite(v)); assert.is(formatGenotype(parseGenotype(g)), g); }
      const t = loadBenchTable(file);
      for (const col of t.numericColumns()) assert.ok(t.column(col).every(Number.isFinite));
      counts.ok++;
    } catch (e) {
      counts.refused++;
      const m = (e as Error).message;
      assertClear(e, m.startsWith('--pred-column') ? '--pred-column' : file, JSON.stringify(text));
    }
  }
});

test('dataset files (IDX plain and gzip, CIFAR batches): 60 mutations load a consistent dataset or fail naming the file', () => {
  const n = 6;
  const images = idxFile(2051, [n, 28, 28], new Uint8Array(n * 784).map((_, b) => (b * 7) & 255));
  const labels = idxFile(2049, [n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  const record = (k: number) => { const r = new Uint8Array(3073).map((_, b) => (b + k) & 255); r[0] = k % 10; return r; };
  const cifar = new Uint8Array(3 * 3073);
  for (let k = 0; k < 3; k++) cifar.set(record(k), k * 3073);
  for (let i = 0; i < 60; i++) {
    const d = join(dir, `data-${i}`);
    mkdirSync(d);
    const kind = i % 3;
    let target: string;
    if (kind < 2) {
      const gz = kind === 1;
      const which = rng.int(2);
      const im = which === 0 ? mutateBytes(images) : images, lb = which === 1 ? mutateBytes(labels) : labels;
      writeFileSync(join(d, `t10k-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(im) : im);
      writeFileSync(join(d, `t10k-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(lb) : lb);
      target = which === 0 ? 'images' : 'labels';
    } else {
      writeFileSync(join(d, 'test_batch.bin'), mutateBytes(cifar));
      target = 'test_batch.bin';
    }
    counts.cases++;
    try {
      const ds = loadDataset(kind < 2 ? 'fashion-mnist' : 'cifar10', { dataDir: d, split: 'test' });
      counts.ok++;
      assert.ok(ds.size >= 1);
      assert.is(ds.labels.length, ds.size);
      assert.ok(Array.from(ds.labels).every((l) => l >= 0 && l < ds.numClasses));
      assert.is(ds.images.length, ds.size * ds.channels * ds.height * ds.width);
    } catch (e) {
      counts.refused++;
      assertClear(e, target, `dataset case ${i}`);
    }
  }
});

test('checkpoints: 40 mutations of a sealed safetensors file are all refused naming it', () => {
  const sealed = sealSafetensors(encodeSafetensors([{ name: 'w', shape: [4, 3], data: new Float32Array(12).map((_, i) => i / 7) }], { format: 'pt' }));
  for (let i = 0; i < 40; i++) {
    const bytes = mutateBytes(sealed);
    counts.cases++;
    try {
      decodeSafetensors(bytes, 'ck.safetensors', { requireChecksum: true });
      // an appended tail is structurally refused; a truncation or flip must be: nothing here may load
      assert.unreachable(`mutation ${i} loaded`);
    } catch (e) {
      counts.refused++;
      assertClear(e, 'ck.safetensors', `checkpoint mutation ${i}`);
    }
  }
});

test('the CLI on mutated files: one clear line, no stack trace, no hang', () => {
  const truth = join(dir, 'truth.csv');
  writeFileSync(truth, `arch_str,acc\n${G.slice(0, 8).map((g, i) => `${g},${i}`).join('\n')}\n`);
  for (let i = 0; i < 8; i++) {
    let text = `arch_str,val_accuracy\n${G.slice(0, 8).map((g, k) => `${g},${(k * 37) % 11}`).join('\n')}\n`;
    for (let k = 0; k < 3; k++) text = mutate(text);
    const pred = join(dir, `cli-${i}.csv`);
    writeFileSync(pred, text);
    const r = spawnSync(process.execPath, [RUN_JS, 'correlate', '--pred', pred, '--truth', truth, '--column', 'acc', '--json'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GMNAS_DEBUG: '' } });
    counts.cases++;
    assert.ok(r.status !== null, `correlate on ${pred} hung`);
    assert.not.match(r.stderr, /^\s+at /m, `stack trace for ${JSON.stringify(text)}:\n${r.stderr}`);
    if (r.status === 0) { counts.ok++; assert.match(r.stdout, /"spearman"/); } else { counts.refused++; assert.match(r.stderr, /^gmnas/m); }
  }
  console.log(`  ${counts.cases} mutated inputs: ${counts.ok} correct results, ${counts.refused} clear refusals`);
  assert.ok(counts.cases >= 200);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
