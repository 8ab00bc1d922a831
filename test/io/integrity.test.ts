// Integrity of written files: SHA-256 against node:crypto, safetensors sealing (any changed byte of
// the header or the data is caught, naming the file), sealed JSON results, and non-finite weights
// refused naming the checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { Sha256, sha256Hex } from '../../src/io/sha256.js';
import { encodeSafetensors, decodeSafetensors, sealSafetensors, assertFiniteTensors } from '../../src/io/safetensors.js';
import { sealJson, parseSealedJson } from '../../src/io/sealed-json.js';
import { canonicalJson } from '../../src/io/canonical-json.js';
import { Rng } from '../../src/data/rng.js';

const nodeSha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

test('SHA-256 equals node:crypto for every length 0..200, in random chunks, and for 1 MiB', () => {
  const rng = new Rng(1);
  for (let n = 0; n <= 200; n++) {
    const bytes = new Uint8Array(n).map(() => rng.int(256));
    assert.is(sha256Hex(bytes), nodeSha(bytes), `length ${n}`);
    const s = new Sha256();
    for (let at = 0; at < n;) { const k = 1 + rng.int(70); s.update(bytes.subarray(at, at + k)); at += k; }
    assert.is(s.hex(), nodeSha(bytes), `length ${n} in chunks`);
  }
  const big = new Uint8Array(1 << 20).map((_, i) => (i * 2654435761) >>> 24);
  assert.is(sha256Hex(big), nodeSha(big));
  assert.is(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'); // FIPS 180-2 example
});

const tensors = [
  { name: 'w', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  { name: 'b', shape: [3], data: new Float32Array([0.5, -1, 7]) },
];

test('a sealed safetensors image decodes to the same tensors and metadata, checksum verified', () => {
  const plain = encodeSafetensors(tensors, { format: 'pt', note: 'x' });
  assert.is(decodeSafetensors(plain, 'plain').checksum, 'absent');
  const sealed = sealSafetensors(plain);
  const d = decodeSafetensors(sealed, 'sealed');
  assert.is(d.checksum, 'verified');
  assert.equal(d.metadata, { format: 'pt', note: 'x' });
  assert.equal([...d.tensors.get('w')!.data], [1, 2, 3, 4, 5, 6]);
  // sealing twice gives the same image; an image without metadata can be sealed too
  assert.equal(sealSafetensors(sealed), sealed);
  assert.is(decodeSafetensors(sealSafetensors(encodeSafetensors(tensors)), 'x').checksum, 'verified');
});

test('every single-bit change of a sealed image is refused with the file named (the checksum required)', () => {
  const sealed = sealSafetensors(encodeSafetensors(tensors, { format: 'pt' }));
  const headerEnd = 8 + Number(new DataView(sealed.buffer).getBigUint64(0, true));
  let caught = 0;
  for (let i = 8; i < sealed.length; i++) {
    for (const bit of [0, 5]) {
      const b = sealed.slice();
      b[i] ^= 1 << bit;
      try {
        decodeSafetensors(b, '/runs/x/node-3.safetensors', { requireChecksum: true });
        assert.unreachable(`byte ${i} bit ${bit} (${i < headerEnd ? 'header' : 'data'}) accepted`);
      } catch (e) {
        assert.match((e as Error).message, /^\/runs\/x\/node-3\.safetensors: /);
        caught++;
      }
    }
  }
  assert.is(caught, 2 * (sealed.length - 8));
  // a data bit flip in particular is a checksum mismatch
  const b = sealed.slice();
  b[b.length - 1] ^= 0x80;
  assert.throws(() => decodeSafetensors(b, 'f.safetensors'), /f\.safetensors: SHA-256 checksum mismatch/);
  // truncations name the file
  for (const cut of [1, 4, 13, sealed.length - headerEnd]) {
    assert.throws(() => decodeSafetensors(sealed.subarray(0, sealed.length - cut), 'cut.safetensors'), /^cut\.safetensors: /);
  }
});

test('non-finite weights are refused, naming the source and the tensor', () => {
  const d = decodeSafetensors(encodeSafetensors([{ name: 'cells.0.w', shape: [3], data: new Float32Array([1, NaN, Infinity]) }]), 'x');
  assert.throws(() => assertFiniteTensors(d.tensors, 'ck/node-1.safetensors'), /ck\/node-1\.safetensors: tensor 'cells\.0\.w' holds 2 NaN\/infinite values of 3/);
  assertFiniteTensors(decodeSafetensors(encodeSafetensors(tensors), 'y').tensors, 'fine');
});

test('sealed JSON: verified after re-indenting or reordering keys, refused after any value change', () => {
  const value = { version: 1, leaves: [{ node: 3, val: { accuracy: 12.5, loss: 2.25 } }], progress: { 10: 'a', 2: 'b' }, name: 'é' };
  const text = sealJson(value);
  const back = parseSealedJson<typeof value>(text, 'result.json');
  assert.is(back.checksum, 'verified');
  assert.equal(back.value, JSON.parse(JSON.stringify(value)));
  const reindented = JSON.stringify(JSON.parse(text), null, 4);
  assert.is(parseSealedJson(reindented, 'r').checksum, 'verified');
  const obj = JSON.parse(text);
  const reordered = JSON.stringify({ sha256: obj.sha256, name: obj.name, progress: obj.progress, leaves: obj.leaves, version: obj.version });
  assert.is(parseSealedJson(reordered, 'r').checksum, 'verified');
  assert.throws(() => parseSealedJson(text.replace('12.5', '12.6'), '/r/result.json'), /\/r\/result\.json: SHA-256 checksum mismatch/);
  assert.throws(() => parseSealedJson(text.replace('"name"', '"nome"'), 'r.json'), /checksum mismatch/);
  assert.throws(() => parseSealedJson(text.slice(0, -3), 'r.json'), /^r\.json: not valid JSON/);
  assert.is(parseSealedJson('{"a":1}', 'old.json').checksum, 'absent');
  assert.is(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
});

test.run();
