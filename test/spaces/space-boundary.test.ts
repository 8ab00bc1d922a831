// Lint-style check of the search-space boundary (issue [darts]): code outside src/spaces/ reaches a
// space only through the SearchSpace interface, so it never names a space's constants or classes, and
// never imports a space's files directly (only src/spaces/registry.ts and src/spaces/space.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ROOT, SRC, sourceFiles } from '../helpers/source-files.js';

/** Identifiers that belong to one space. */
const FORBIDDEN = /\b(NUM_EDGES|NUM_OPS|NB201_[A-Z0-9_]+|Nb201[A-Za-z0-9_]*|DARTS_[A-Z0-9_]+|PRIMITIVES|DartsSupernet|DartsNetwork)\b/;
/** Imports of a space's own files (anything under spaces/ but the interface and the registry). */
const SPACE_IMPORT = /from\s+'[^']*spaces\/(?!space\.js'|registry\.js')[^']*'/;

const outside = sourceFiles(SRC).filter((f) => !relative(SRC, f).startsWith('spaces'));

test('the boundary check sees the source tree', () => {
  assert.ok(outside.length > 50, `found only ${outside.length} files under src/ outside src/spaces/`);
  assert.ok(FORBIDDEN.test('const x = NUM_EDGES;') && FORBIDDEN.test('new Nb201Supernet(') && FORBIDDEN.test('DARTS_V2'));
  assert.ok(SPACE_IMPORT.test("import { x } from '../spaces/nb201/ops.js';"));
  assert.not.ok(SPACE_IMPORT.test("import { getSpace } from '../spaces/registry.js';"));
});

test('no file outside src/spaces/ names a space constant or imports a space directly', () => {
  const offences: string[] = [];
  for (const file of outside) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, ''); // comments may cite the reference's names
      const m = FORBIDDEN.exec(code);
      if (m) offences.push(`${relative(ROOT, file)}:${i + 1}: names ${m[0]}`);
      if (SPACE_IMPORT.test(code)) offences.push(`${relative(ROOT, file)}:${i + 1}: imports a space's file (${code.trim()})`);
    });
  }
  assert.equal(offences, [], `\n${offences.join('\n')}`);
});

test.run();
