// Output folders of commands (Node): checked before any work so a bad --out cannot cost a training
// run — the path is not a file, an existing folder is empty (or --overwrite is given), and a file
// can be created there.
import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Creates (if needed) and checks the folder; returns its absolute path. `flag` names it in errors. */
export function prepareOutputFolder(path: string, o: { flag: string; overwrite?: boolean; overwriteFlag?: string }): string {
  if (path.trim() === '') throw new Error(`${o.flag}: expected a folder name, got an empty string`);
  const dir = resolve(path);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`${o.flag} ${dir}: exists and is not a folder`);
    const entries = readdirSync(dir);
    if (entries.length && !o.overwrite) {
      throw new Error(`${o.flag} ${dir}: the folder already holds files (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); ` +
        `choose another folder${o.overwriteFlag ? `, or give ${o.overwriteFlag} to replace them` : ''}`);
    }
  }
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.gmnas-write-test-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    throw new Error(`${o.flag} ${dir}: cannot write there (${(e as Error).message})`);
  }
  return dir;
}

/** A timestamp for default folder names: 2026-12-06T16-55-01 (UTC, no characters shells or Windows mind). */
export function folderTimestamp(d = new Date()): string {
  return d.toISOString().replace(/:/g, '-').replace(/\..*$/, '');
}

/** `base` itself, or `base-2`, `base-3`, … — the first that does not exist (default names never collide). */
export function freshFolderName(base: string): string {
  if (!existsSync(base)) return base;
  for (let k = 2; ; k++) if (!existsSync(`${base}-${k}`)) return `${base}-${k}`;
}
