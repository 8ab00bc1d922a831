// `node run.js verify RUN_DIR`: every checksum and reference of a run folder (src/nas/verify-run.ts).
// Exit status 0 when nothing is wrong, 1 when a file is damaged or missing.
import { parseFlags, UsageError } from './args.js';
import { verifyRunFolder } from '../nas/verify-run.js';

const HELP = `usage: node run.js verify RUN_DIR [--quiet]
Checks a search's or train's output folder: the SHA-256 of every checkpoint and result file, that
checkpoints hold finite values, and that every checkpoint state.json or result.json needs is there.
  --quiet    print only the problems`;

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('verify', argv, { quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) { console.log(HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError(`verify: expected one RUN_DIR, got ${positionals.length}\n${HELP}`);
  const findings = verifyRunFolder(positionals[0]);
  for (const f of findings) {
    if (values.quiet && f.level === 'ok') continue;
    console.log(`${f.level.padEnd(7)}  ${f.file}: ${f.message}`);
  }
  const errors = findings.filter((f) => f.level === 'error').length, warnings = findings.filter((f) => f.level === 'warning').length;
  console.log(`${findings.length} files checked: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return errors ? 1 : 0;
}
