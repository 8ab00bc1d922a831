// Exits 0 when FILE holds a retraining (at the JSON path FIELD, e.g. `retrain` or `final.retrain`) of
// this build's retraining protocol (src/nas/retrain.ts RETRAIN_PROTOCOL_VERSION; results written before
// the field existed count as version 1), 1 when it is of another version or FILE is missing. The
// experiment scripts reuse finished retrainings only when this says so, so that one table never mixes
// protocols.
//
//   node experiments/protocol-current.mjs FILE FIELD        (--print-version: print the current version)
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { RETRAIN_PROTOCOL_VERSION } = await import(join(ROOT, 'dist/src/nas/retrain.js'));
const [file, field] = process.argv.slice(2);
if (file === '--print-version') { console.log(RETRAIN_PROTOCOL_VERSION); process.exit(0); }
if (!file || !field) { console.error('usage: node experiments/protocol-current.mjs FILE FIELD | --print-version'); process.exit(2); }
if (!existsSync(file)) process.exit(1);
let r = JSON.parse(readFileSync(file, 'utf8'));
for (const k of field.split('.')) r = r?.[k];
process.exit((r?.protocol?.version ?? 1) === RETRAIN_PROTOCOL_VERSION ? 0 : 1);
