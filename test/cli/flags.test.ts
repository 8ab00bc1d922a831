// Flags and folders a user can get wrong (issue [reliability] item 6), each refused in one line that
// names the right flag, before any work; and a resume after the data folder moved.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseIdx, IDX_LABELS_MAGIC } from '../../src/data/readers/idx.js';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { runSearch, StopRequested } from '../../src/nas/search.js';
import { FileStore } from '../../src/nas/file-store.js';
import { prepareSearchData } from '../../src/nas/phases.js';

const RUN_JS = fileURLToPath(new URL('../../../run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gmnas-flags-'));
function run(args: string[]): { code: number | null; err: string } {
  const r = spawnSync(process.execPath, [RUN_JS, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, GMNAS_DEBUG: '' } });
  return { code: r.status, err: r.stderr };
}
const TINY = ['--space', 'nb201', '--preset', 'tiny', '--device', 'cpu', '--quiet'];

test('search flags: each mistake is one line naming its own flag, exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['--groups', '5'], /^gmnas: --groups 5: expected at least two sizes like 2\+3/],
    [['--lr', '20'], /^gmnas: --lr: expected a learning rate in \(0, 10\), got 20$/],
    [['--lr', '0'], /^gmnas: --lr: expected a learning rate in \(0, 10\), got 0$/],
    [['--lr', 'abc'], /^gmnas: --lr abc: expected a number$/],
    [['--seed', '1e1'], /^gmnas: --seed 1e1: expected an integer >= 0/],
    [['--gm-repeats', '0x10'], /^gmnas: --gm-repeats 0x10: expected an integer >= 1/],
    [['--epochs', ''], /^gmnas: --epochs : expected an integer >= 1/],
    [['--split-epochs', '1e0,2'], /^gmnas: --split-epochs 1e0,2: '1e0' is not a non-negative integer/],
    [['--out', ''], /^gmnas: --out: expected a folder name/],
    [['--resume', join(dir, 'nowhere')], /^gmnas: --resume .*nowhere: no such folder, so no state\.json/],
    [['--resume', join(dir, 'nowhere'), '--data-dir', dir], /^gmnas: --resume .*nowhere: no such folder, so no state\.json/],
    [['--resume', ''], /^gmnas: --resume: expected the run folder/],
    [['--retrain-missing'], /^gmnas: --retrain-missing only applies with --resume DIR/],
  ];
  for (const [args, re] of cases) {
    const r = run([...(args[0] === '--resume' ? [] : TINY), ...args]);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.is(lines.length, 1, r.err);
    assert.match(lines[0], re);
  }
  // a failed --resume creates nothing; --out '' wrote into the current folder before
  assert.not.ok(existsSync(join(dir, 'nowhere')));
  assert.not.ok(existsSync(join(dir, 'state.json')));
});

test('the IDX size error reads plainly for a one-dimensional (labels) file', () => {
  const bytes = new Uint8Array(8 + 3);
  new DataView(bytes.buffer).setUint32(0, IDX_LABELS_MAGIC);
  new DataView(bytes.buffer).setUint32(4, 5);
  assert.throws(() => parseIdx(bytes, IDX_LABELS_MAGIC, 'l.idx', 'mnist'), /l\.idx has 3 data bytes after its header, expected 5$/);
});

test('a resume may name a new --data-dir (the files moved); any other change is still refused', async () => {
  const c = { ...defaultSearchConfig({ method: 'gm', preset: 'tiny', base: 'darts' }), syntheticSize: 128, dataDir: '/old/place' };
  const be = new CpuBackend();
  const data = prepareSearchData(c, generateSynthetic({ split: 'train', size: 128, seed: 0 }));
  const out = join(dir, 'moved');
  const go = async (config: typeof c, resume: boolean): Promise<void> => {
    try { await runSearch({ config, backend: be, data, store: new FileStore(out), deviceName: 'cpu', resume, stopAfterEpochs: 1 }); } catch (e) { if (!(e instanceof StopRequested)) throw e; }
  };
  await go(c, false);
  await go({ ...c, dataDir: '/new/place' }, true);
  const state = await new FileStore(out).readState<{ config: { dataDir: string } }>();
  assert.is(state!.config.dataDir, '/new/place');
  try { await go({ ...c, dataDir: '/new/place', seed: 9 }, true); assert.unreachable('accepted'); } catch (e) { assert.match((e as Error).message, /different configuration/); }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
