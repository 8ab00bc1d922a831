import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseCsv, parseCsvRecords, csvColumnIndex, parseCsvNumber, formatCsvRow, formatCsvField } from '../../src/io/csv.js';

test('records: quotes, doubled quotes, embedded commas and newlines, CRLF, BOM, blank lines', () => {
  const text = '\ufeffa,b,c\r\n1,"x,y","say ""hi"""\n\n"multi\nline",,""\n  spaced ,z,"" \n';
  // The last record has a space after a closing quote, which is not allowed.
  assert.throws(() => parseCsvRecords(text, 'f.csv'), /f\.csv:6: unexpected " " after a closing quote \(field 3\)/);
  const ok = '\ufeffa,b,c\r\n1,"x,y","say ""hi"""\n\n"multi\nline",,""\n  spaced ,z,\n';
  const records = parseCsvRecords(ok, 'f.csv');
  assert.equal(records.map((r) => r.line), [1, 2, 4, 6]);
  assert.equal(records.map((r) => [...r.fields]), [
    ['a', 'b', 'c'],
    ['1', 'x,y', 'say "hi"'],
    ['multi\nline', '', ''],
    ['  spaced ', 'z', ''],
  ]);
  // No final newline, and a record that is one quoted empty field (not a blank line).
  assert.equal(parseCsvRecords('a\n""\nb', 's').map((r) => [...r.fields]), [['a'], [''], ['b']]);
});

test('records: malformed quoting is reported with the line', () => {
  assert.throws(() => parseCsvRecords('a,b\n1,"open\n2,3\n', 'q.csv'), /q\.csv:2: quoted field never closed/);
  assert.throws(() => parseCsvRecords('a,b\n1,ab"c\n', 'q.csv'), /q\.csv:2: '"' inside unquoted field 2/);
  assert.throws(() => parseCsvRecords('a,b\n1,"ab"c\n', 'q.csv'), /q\.csv:2: unexpected "c" after a closing quote/);
});

test('tables: header validation, field counts, column lookup', () => {
  const t = parseCsv('x, y ,z\n1,2,3\n\n4,5,6\n', 't.csv');
  assert.equal([...t.header], ['x', 'y', 'z']);
  assert.is(t.headerLine, 1);
  assert.equal(t.records.map((r) => r.line), [2, 4]);
  assert.is(csvColumnIndex(t, 'y'), 1);
  assert.throws(() => csvColumnIndex(t, 'w'), /t\.csv: no column 'w' \(columns: x, y, z\)/);
  assert.throws(() => parseCsv('x,y\n1,2\n3\n', 't.csv'), /t\.csv:3: 1 field, but the header \(line 1\) has 2 columns/);
  assert.throws(() => parseCsv('x,,y\n', 't.csv'), /t\.csv:1: header column 2 has no name/);
  assert.throws(() => parseCsv('x,y,x\n', 't.csv'), /header names column 'x' twice \(columns 1 and 3\)/);
  assert.throws(() => parseCsv('\n\n', 't.csv'), /t\.csv: empty CSV/);
});

test('numbers: plain decimals only', () => {
  assert.is(parseCsvNumber('94.373333'), 94.373333);
  assert.is(parseCsvNumber(' -1.5e-3 '), -0.0015);
  assert.is(parseCsvNumber('.5'), 0.5);
  assert.is(parseCsvNumber('7.'), 7);
  for (const bad of ['', ' ', 'NaN', 'inf', '0x10', '1,5', '1.2.3', 'e5', '--1']) assert.is(parseCsvNumber(bad), undefined, bad);
});

test('writing: fields are quoted only when needed and read back unchanged', () => {
  assert.is(formatCsvField('|nor_conv_3x3~0|+|none~0|'), '|nor_conv_3x3~0|+|none~0|');
  assert.is(formatCsvField('a,b'), '"a,b"');
  assert.is(formatCsvField('say "hi"'), '"say ""hi"""');
  assert.is(formatCsvField(' pad'), '" pad"');
  assert.is(formatCsvField(0.25), '0.25');
  const rows = [['arch_str', 'note', 'v'], ['|a~0|', 'x,"y"\nz', '1.5'], ['', ' ', '-2']];
  const text = rows.map((r) => formatCsvRow(r)).join('\n') + '\n';
  assert.equal(parseCsvRecords(text, 'w').map((r) => [...r.fields]), rows);
  assert.equal(parseCsvRecords(`h\n${formatCsvRow([''])}\n`, 'w').map((r) => [...r.fields]), [['h'], ['']]);
});

test.run();
