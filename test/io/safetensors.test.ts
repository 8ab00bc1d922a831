import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, decodeSafetensors } from '../../src/io/safetensors.js';

// Goldens written by test/io/fixtures/make_safetensors_goldens.py from the format spec alone (struct + json).
const fixture = (name: string) =>
  new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../test/io/fixtures/${name}`, import.meta.url))));

const GENOTYPE = '|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|';
const F32_TENSORS = [
  { name: 'stem.0.weight', shape: [2, 1, 1, 3], data: new Float32Array([0, 1.5, -2, 3.25, 0.125, -0.5]) },
  { name: 'classifier.bias', shape: [2], data: new Float32Array([1, -1]) },
  { name: 'scalar', shape: [], data: new Float32Array([42]) },
];

/** A file image from header text and data bytes, with the header length written as given. */
function image(headerText: string, data: number[] = [], declaredLength?: number): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('encode: a one-tensor file, byte for byte by hand', () => {
  const bytes = encodeSafetensors([{ name: 'a', shape: [1], data: new Float32Array([1]) }]);
  const json = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'; // 54 bytes; 8 + 54 → pad to 64 with 2 spaces
  const expected = [56, 0, 0, 0, 0, 0, 0, 0, ...Array.from(json, (c) => c.charCodeAt(0)), 32, 32, 0x00, 0x00, 0x80, 0x3f];
  assert.equal(Array.from(bytes), expected);
});

test('encode: matches the Python golden exactly (metadata, order, padding)', () => {
  const bytes = encodeSafetensors(F32_TENSORS, { format: 'pt', genotype: GENOTYPE });
  const golden = fixture('f32.safetensors');
  assert.is(bytes.length, golden.length);
  assert.equal(Array.from(bytes), Array.from(golden));
  assert.is((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8, 0);
});

test('decode: the F32 golden', () => {
  const { tensors, metadata } = decodeSafetensors(fixture('f32.safetensors'), 'f32.safetensors');
  assert.equal(metadata, { format: 'pt', genotype: GENOTYPE });
  assert.equal([...tensors.keys()], ['stem.0.weight', 'classifier.bias', 'scalar']);
  for (const t of F32_TENSORS) {
    const got = tensors.get(t.name)!;
    assert.is(got.dtype, 'F32');
    assert.equal(got.shape, t.shape);
    assert.equal(Array.from(got.data), Array.from(t.data));
  }
});

test('decode: F16, BF16, F64, I64, I32, BOOL and an empty tensor convert to float32', () => {
  const { tensors, metadata } = decodeSafetensors(fixture('mixed-dtypes.safetensors'), 'mixed');
  assert.equal(metadata, {});
  const get = (n: string) => tensors.get(n)!;
  assert.equal(Array.from(get('half').data), [1, -2.5, 65504, 2 ** -24]);
  assert.is(get('half').dtype, 'F16');
  assert.equal(Array.from(get('brain').data), [1, -3.140625]);
  assert.equal(Array.from(get('double').data), [Math.fround(0.1), Math.fround(-1e10)]);
  assert.equal(get('bn.num_batches_tracked').shape, []);
  assert.equal(Array.from(get('bn.num_batches_tracked').data), [7]);
  assert.equal(get('ints').shape, [1, 2]);
  assert.equal(Array.from(get('ints').data), [-3, Math.fround(2147483647)]);
  assert.equal(Array.from(get('mask').data), [1, 0, 1]);
  assert.equal(get('empty').shape, [0, 4]);
  assert.is(get('empty').data.length, 0);
});

test('round trip: F64, I64 and I32 arrays keep their dtype; an unaligned input view decodes', () => {
  const bytes = encodeSafetensors([
    { name: 'bn.running_var', shape: [3], data: new Float32Array([1, 2, 3]) },
    { name: 'bn.num_batches_tracked', shape: [], data: new BigInt64Array([12345n]) },
    { name: 'd', shape: [2], data: new Float64Array([0.5, -8]) },
    { name: 'i', shape: [1], data: new Int32Array([-9]) },
  ]);
  // Decoding from an odd byte offset must not need aligned views.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const { tensors } = decodeSafetensors(shifted.subarray(1), 'shifted');
  assert.equal([...tensors.values()].map((t) => t.dtype), ['F32', 'I64', 'F64', 'I32']);
  assert.equal(Array.from(tensors.get('bn.num_batches_tracked')!.data), [12345]);
  assert.equal(Array.from(tensors.get('d')!.data), [0.5, -8]);
  assert.equal(Array.from(tensors.get('i')!.data), [-9]);
});

test('encode: bad inputs are rejected with the tensor named', () => {
  const one = (name: string, shape: number[], data: Float32Array) => ({ name, shape, data });
  assert.throws(() => encodeSafetensors([one('w', [2, 2], new Float32Array(3))]), /tensor 'w': shape \[2, 2\] holds 4 values but data has 3/);
  assert.throws(() => encodeSafetensors([one('w', [1], new Float32Array(1)), one('w', [1], new Float32Array(1))]), /'w' appears twice/);
  assert.throws(() => encodeSafetensors([one('__metadata__', [1], new Float32Array(1))]), /reserved/);
  assert.throws(() => encodeSafetensors([one('', [1], new Float32Array(1))]), /non-empty name/);
  assert.throws(() => encodeSafetensors([one('w', [-1], new Float32Array(1))]), /tensor 'w': shape \[-1\] has -1/);
  assert.throws(() => encodeSafetensors([{ name: 'w', shape: [1], data: [1] as unknown as Float32Array }]), /tensor 'w': data must be a Float32Array/);
  assert.throws(() => encodeSafetensors([], { n: 1 as unknown as string }), /metadata 'n' must be a string/);
});

test('decode: malformed files are rejected with the file named and the reason', () => {
  const entry = (name: string, dtype: string, shape: number[], begin: number, end: number) =>
    `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;
  const four = [0, 0, 128, 63];
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /bad\.st: not a valid safetensors file: 5 bytes, shorter than the 8-byte header length/],
    [image(`{${entry('a', 'F32', [1], 0, 4)}}`, four, 1000), /header length 1000 runs past the end of the file/],
    [image('{}', [], 2 ** 40), /header length 1099511627776 exceeds/],
    [image('[1,2]'), /header must start with '\{'/],
    [image('{"a":'), /header is not valid JSON/],
    [image(`{${entry('a', 'F8_E4M3', [1], 0, 1)}}`, [0]), /tensor 'a' has dtype 'F8_E4M3', which we cannot read/],
    [image(`{${entry('a', 'F32', [2], 0, 4)}}`, four), /tensor 'a' \(F32 \[2\]\) needs 8 bytes but data_offsets span 4/],
    [image(`{${entry('a', 'F32', [1], 0, 8)}}`, four), /tensor 'a' ends at byte 8 of the data section, which has only 4 bytes/],
    [image(`{${entry('a', 'F32', [1], 4, 0)}}`, four), /begin after end/],
    [image('{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', four), /tensor 'a' has shape \[1\.5\]/],
    [image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', four), /tensor 'a' has data_offsets \[0\]/],
    [image('{"a":{"shape":[1],"data_offsets":[0,4]}}', four), /tensor 'a' has no string 'dtype'/],
    [image('{"a":[1]}', four), /tensor 'a' must be an object/],
    [image(`{${entry('a', 'F32', [2], 0, 8)},${entry('b', 'F32', [1], 4, 8)}}`, [...four, ...four]), /tensor 'b' \[4, 8\) overlaps tensor 'a', which ends at 8/],
    [image(`{${entry('a', 'F32', [1], 4, 8)}}`, [...four, ...four]), /bytes \[0, 4\) of the data section belong to no tensor \(before 'a'\)/],
    [image(`{${entry('a', 'F32', [1], 0, 4)}}`, [...four, 1]), /the data section has 5 bytes but the tensors cover only 4/],
    [image('{"__metadata__":{"k":1}}'), /'__metadata__' entry 'k' must be a string/],
    [image('{"__metadata__":"x"}'), /'__metadata__' must be an object/],
    [image('{"a":1', [], 3).subarray(0, 11), /header is not valid JSON/],
  ];
  for (const [bytes, expected] of cases) assert.throws(() => decodeSafetensors(bytes, 'bad.st'), expected);
  // Invalid UTF-8 in the header.
  const broken = image('{"\u00e9":1}');
  broken[11] = 0xff;
  assert.throws(() => decodeSafetensors(broken, 'bad.st'), /header is not valid UTF-8/);
});

test.run();
