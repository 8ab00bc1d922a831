// Whether a retraining is of this build's retraining protocol (src/nas/retrain.ts
// RETRAIN_PROTOCOL_VERSION; results written before the field existed count as version 1). The
// experiment scripts reuse finished retrainings only when it is, so that one table never mixes
// protocols: quality.sh's report imports `isCurrentRetraining`, the shell scripts run this file.
//
//   node experiments/protocol-current.mjs FILE FIELD    exits 0 when FILE holds a current retraining at
//                                                       the JSON path FIELD (e.g. `retrain` or
//                                                       `final.retrain`), 1 when not or FILE is missing
//   node experiments/protocol-current.mjs --print-version
import { readFileSync, existsSync, realpathSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { RETRAIN_PROTOCOL_VERSION } = await import(join(ROOT, 'dist/src/nas/retrain.js'));

/** `retrain` (a RetrainResult as result.json holds it, or undefined) is of this build's protocol */
export const isCurrentRetraining = (retrain) => (retrain?.protocol?.version ?? 1) === RETRAIN_PROTOCOL_VERSION;

// run as a script, not imported (an importer's argv[1] may be '-', a heredoc): real paths compared, so
// a symlinked checkout still runs the check
const samePath = (a, b) => { try { return realpathSync(a) === realpathSync(b); } catch { return false; } };
if (process.argv[1] && samePath(process.argv[1], fileURLToPath(import.meta.url))) {
  const [file, field] = process.argv.slice(2);
  if (file === '--print-version') { console.log(RETRAIN_PROTOCOL_VERSION); process.exit(0); }
  if (!file || !field) { console.error('usage: node experiments/protocol-current.mjs FILE FIELD | --print-version'); process.exit(2); }
  if (!existsSync(file)) process.exit(1);
  let r = JSON.parse(readFileSync(file, 'utf8'));
  for (const k of field.split('.')) r = r?.[k];
  process.exit(isCurrentRetraining(r) ? 0 : 1);
}
