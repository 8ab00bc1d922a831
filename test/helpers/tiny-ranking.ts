// What the tests of experiments/ranking.sh's options share: a --tiny run on the CPU backend at budget 10
// over three fixed NB201 cells whose made-up truth is their index (column `score`), written once into a
// fresh temporary folder.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export const TINY_RANKING_ARCHS = [
  '|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|',
  '|none~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|',
  '|skip_connect~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|',
];

export interface TinyRanking {
  /** the temporary folder holding archs.txt and truth.csv (outputs go below it) */
  tmp: string;
  /** ranking.sh --tiny with OUT and the extra flags */
  run(out: string, extra: string[]): SpawnSyncReturns<string>;
  remove(): void;
}

export function tinyRanking(prefix: string): TinyRanking {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const archs = TINY_RANKING_ARCHS;
  writeFileSync(join(tmp, 'archs.txt'), `${archs.join('\n')}\n`);
  writeFileSync(join(tmp, 'truth.csv'), `arch_str,score\n${archs.map((a, i) => `${a},${i}`).join('\n')}\n`);
  const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
  return {
    tmp,
    run: (out, extra) => spawnSync('bash', [join(ROOT, 'experiments/ranking.sh'), '--tiny', '--device', 'cpu', '--budget', '10',
      '--archs', join(tmp, 'archs.txt'), '--truth', join(tmp, 'truth.csv'), '--column', 'score', '--out', out, ...extra],
    { env, encoding: 'utf8', timeout: 300_000, cwd: ROOT }),
    remove: () => rmSync(tmp, { recursive: true, force: true }),
  };
}
