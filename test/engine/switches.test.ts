// The engine's switch registry (src/engine/switches.ts): scoped overrides restore the previous values
// however the scope ends, unknown names are refused before anything changes, and the registry is
// the only place that declares switches (no module keeps a mutable options object of its own).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { setSwitches, switchDefaults, switches, withSwitches } from '../../src/engine/switches.js';
import { ROOT, SRC, sourceFiles } from '../helpers/source-files.js';

test('withSwitches sets the values inside the scope and restores them after it', () => {
  const before = { ...switches };
  const seen = withSwitches({ fusion: !before.fusion, convColumnGroups: 3 }, () => [switches.fusion, switches.convColumnGroups]);
  assert.equal(seen, [!before.fusion, 3]);
  assert.equal({ ...switches }, before);
});

test('withSwitches restores the values when the scope throws', () => {
  const before = { ...switches };
  assert.throws(() => withSwitches({ convPairs: false, minTuneMacs: 1 }, () => {
    assert.is(switches.convPairs, false);
    assert.is(switches.minTuneMacs, 1);
    throw new Error('boom');
  }), /boom/);
  assert.equal({ ...switches }, before);
});

test('withSwitches restores after an async scope settles (resolved or rejected), not before', async () => {
  const before = { ...switches };
  let inside: boolean | undefined;
  const p = withSwitches({ mergeSplitSums: false }, async () => {
    await new Promise((r) => setTimeout(r, 1));
    inside = switches.mergeSplitSums;
    return 7;
  });
  assert.is(switches.mergeSplitSums, false, 'the scope is still open while its promise is pending');
  assert.is(await p, 7);
  assert.is(inside, false);
  assert.equal({ ...switches }, before);
  try {
    await withSwitches({ vecWindow: false }, async () => { await Promise.resolve(); throw new Error('async boom'); });
    assert.unreachable('the scope rejected');
  } catch (e) {
    assert.match((e as Error).message, /async boom/);
  }
  assert.equal({ ...switches }, before);
});

test('scopes nest: the inner one restores the outer values', () => {
  withSwitches({ subgroups: false }, () => {
    withSwitches({ subgroups: true, poolStripKernel: false }, () => {
      assert.is(switches.subgroups, true);
      assert.is(switches.poolStripKernel, false);
    });
    assert.is(switches.subgroups, false);
    assert.is(switches.poolStripKernel, switchDefaults.poolStripKernel);
  });
  assert.is(switches.subgroups, switchDefaults.subgroups);
});

test('an unknown switch name is rejected by name before anything changes', () => {
  const before = { ...switches };
  let ran = false;
  assert.throws(() => withSwitches({ fusion: false, noSuchSwitch: 1 } as never, () => { ran = true; }),
    (e: Error) => /unknown engine switch 'noSuchSwitch'/.test(e.message) && /fusion/.test(e.message));
  assert.is(ran, false);
  assert.equal({ ...switches }, before);
  assert.throws(() => setSwitches({ convOptions: {} } as never), /unknown engine switch 'convOptions'/);
});

test('the registry is the only switch declaration: no module exports a mutable *Options object', () => {
  const files = sourceFiles(SRC);
  assert.ok(files.length > 50, `found only ${files.length} files under src/`);
  const offences: string[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (/^export (const|let) [a-zA-Z]*Options\s*=\s*\{/.test(line)) offences.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.equal(offences, []);
  assert.ok(/^export (const|let) [a-zA-Z]*Options\s*=\s*\{/.test('export const convOptions = {'), 'the pattern matches the old form');
  // engine layer: the registry imports nothing
  const registry = readFileSync(join(SRC, 'engine/switches.ts'), 'utf8');
  assert.not.match(registry, /^import /m);
});

test.run();
