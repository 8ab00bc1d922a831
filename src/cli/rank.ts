// `node run.js rank --from RUN_DIR --archs FILE [--out FILE.csv] [--device D] [--val-batches K] [--bn-recalibrate K]
//   [--queue URL [--store DIR]]`
// Scores every genotype of FILE with the leaf sub-supernet of a finished search that admits it (the
// one supernet of a one-shot run), as a single path on the search's fixed validation batches, and
// writes `arch_str,leaf,val_accuracy,val_loss` atomically — the --pred file of `correlate`. Lines that
// are not a valid NB201 genotype are reported on stderr by line number; the rest are still ranked.
// The logic lives in src/nas/rank.ts.
import { join, resolve } from 'node:path';
import { parseFlags, intFlag, UsageError } from './args.js';
import { AUTOTUNE_FLAG, AUTOTUNE_FLAG_HELP, DEVICE_CHOICES, THREADS_FLAG, THREADS_FLAG_HELP, readAutotuneFlag, readThreadsFlag, type DeviceChoice } from './common-flags.js';
import { autotuneBackendOptions } from '../io/autotune-cache.js';
import { createBackend, describeBackend } from '../engine/select-backend.js';
import { readTextFile, writeFileAtomic } from '../io/fs.js';
import { formatCsvRow } from '../io/csv.js';
import { loadRun, parseGenotypeList, rankGenotypes } from '../nas/rank.js';
import { getSpace, describeSize } from '../spaces/registry.js';
import { parseQueueUrl } from '../pool/queue-connection.js';
import { queueLeafRanker, rankStore } from '../pool/queue-rank.js';

const HELP = `usage: node run.js rank --from RUN_DIR --archs FILE [flags]
  --from DIR             output folder of a finished search (result.json + checkpoints/)
  --archs FILE           NB201 genotypes, one per line ('#' comments), or a CSV with an arch_str column
                         (the NB201 table works as it is)
  --out FILE.csv         where the scores go (default RUN_DIR/rank.csv; '-': stdout)
                         columns: arch_str,leaf,val_accuracy,val_loss (accuracy in %)
  --device auto|webgpu|wasm|cpu   backend (auto: WebGPU on a GPU, else wasm SIMD; README "Choosing a device")
${THREADS_FLAG_HELP}
${AUTOTUNE_FLAG_HELP}
  --val-batches K|all    validation batches per genotype (default: the search's --val-batches)
  --bn-recalibrate K     reset the BN running statistics and re-estimate them on K fixed training
                         batches before evaluating each genotype (default 0: as the search scored leaves)
  --data-dir DIR         the dataset's folder, when it moved since the search ran
  --queue URL            score the leaves on \`node run.js worker\` processes through this Redis, one
                         rank-leaf job per leaf (same numbers as a local rank); the workers read the leaf
                         checkpoints where the run keeps them (its --store, or the run folder)
  --store DIR            with --queue: this machine's mount of the run's store, when not at the recorded path
  --quiet                no progress lines
Each genotype is scored by the leaf whose op mask admits it; the leaf's checkpoint is loaded once.`;

function fmt(v: number, digits: number): string {
  return String(Number(v.toFixed(digits)));
}

export async function rankCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags('rank', argv, {
    from: { type: 'string' }, archs: { type: 'string' }, out: { type: 'string' }, device: { type: 'string' }, ...THREADS_FLAG, ...AUTOTUNE_FLAG,
    'val-batches': { type: 'string' }, 'bn-recalibrate': { type: 'string' }, 'data-dir': { type: 'string' },
    queue: { type: 'string' }, store: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) { console.log(HELP); return 0; }
  if (positionals.length) throw new UsageError(`rank: unexpected argument '${positionals[0]}' (see \`node run.js rank --help\`)`);
  for (const f of ['from', 'archs']) {
    if (v[f] === undefined || v[f] === '') throw new UsageError(`rank: --${f} is required\n${HELP}`);
  }
  const device = String(v.device ?? 'auto');
  if (!(DEVICE_CHOICES as readonly string[]).includes(device)) throw new UsageError(`--device ${device}: expected one of ${DEVICE_CHOICES.join(', ')}`);
  const valBatches = v['val-batches'] === undefined ? undefined : v['val-batches'] === 'all' ? null : intFlag(v, 'val-batches', 1, 1);
  const bnRecalibrate = intFlag(v, 'bn-recalibrate', 0, 0);
  const say = v.quiet ? () => {} : (s: string) => process.stderr.write(`${s}\n`);
  const warn = (s: string) => process.stderr.write(`${s}\n`);

  // --queue: the leaves are scored on workers, which read the checkpoints from the store (src/pool/queue-rank.ts)
  if (v.store !== undefined && v.queue === undefined) throw new UsageError('--store goes with --queue (a local rank reads the checkpoints where the run keeps them)');
  let queued: { target: ReturnType<typeof parseQueueUrl>; store: ReturnType<typeof rankStore> } | null = null;
  if (v.queue !== undefined) {
    if (v.device !== undefined || v.threads !== undefined) throw new UsageError('--device/--threads: with --queue the leaves are scored on the workers, with their own --device');
    let target;
    try { target = parseQueueUrl(String(v.queue)); } catch (e) { throw new UsageError((e as Error).message); }
    queued = { target, store: rankStore(String(v.from), v.store === undefined ? null : resolve(String(v.store))) };
  }

  // everything that can fail on the user's input fails before the data and the device load
  const run = loadRun(String(v.from), queued ? { checkpointRoot: queued.store.checkpointRoot } : {});
  const archsFile = String(v.archs);
  const { entries, errors } = parseGenotypeList(readTextFile(archsFile, '--archs file'), archsFile, getSpace(run.config.space));
  for (const e of errors) warn(`${archsFile}:${e.line}: skipped: ${e.message}`);
  const firstLine = new Map<string, number>();
  const unique = entries.filter((e) => {
    const seen = firstLine.get(e.arch);
    if (seen !== undefined) { warn(`${archsFile}:${e.line}: duplicate of line ${seen}; ranked once`); return false; }
    firstLine.set(e.arch, e.line);
    return true;
  });
  const dropped = entries.length - unique.length;
  if (errors.length || dropped) warn(`${archsFile}: ${errors.length} line${errors.length === 1 ? '' : 's'} skipped, ${dropped} duplicate${dropped === 1 ? '' : 's'} ranked once; ${unique.length} genotypes to rank`);
  if (!unique.length) throw new Error(`${archsFile}: no valid NB201 genotype to rank${errors.length ? ` (${errors.length} line${errors.length === 1 ? '' : 's'} skipped, see above)` : ''}`);
  const out = v.out === undefined ? join(run.dir, 'rank.csv') : v.out === '-' ? '-' : resolve(String(v.out));

  const dataDir = v['data-dir'] !== undefined ? resolve(String(v['data-dir'])) : undefined;
  const backend = queued ? null : await createBackend(device as DeviceChoice, { log: (m) => warn(`note: ${m}`), threads: readThreadsFlag(v), ...autotuneBackendOptions(readAutotuneFlag(v)) });
  try {
    const c = run.config;
    say(`gmnas rank: ${unique.length} genotype${unique.length === 1 ? '' : 's'} with the ${run.leaves.length} lea${run.leaves.length === 1 ? 'f' : 'ves'} of ` +
      `${run.dir} (${c.method} + ${c.base}, ${c.dataset}, ${describeSize(getSpace(c.space), { C: c.channels, N: c.cells })}) on ${backend ? describeBackend(backend) : `the workers of queue ${queued!.target.display}`}`);
    let lastShown = 0;
    const report = await rankGenotypes(run, unique.map((e) => e.genotype), {
      valBatches, bnRecalibrate, onLog: say,
      ...(backend ? { backend } : {}),
      ...(queued ? {
        leafRanker: queueLeafRanker({
          target: queued.target, runDir: run.dir, config: dataDir === undefined ? c : { ...c, dataDir }, store: queued.store.store,
          dataset: run.result.dataset ?? null, onLog: say,
        }),
      } : {}),
      ...(dataDir !== undefined ? { dataDir } : {}),
      onProgress: (done, total) => {
        const now = Date.now();
        if (done === total || now - lastShown > 5000) { lastShown = now; say(`  ${done}/${total} scored`); }
      },
    });
    for (const u of report.unranked) warn(`${archsFile}:${unique[u.index]!.line}: not ranked: ${u.arch}: ${u.reason}`);
    const lines = ['arch_str,leaf,val_accuracy,val_loss'];
    for (const row of report.rows) lines.push(formatCsvRow([row.arch, row.leaf, fmt(row.accuracy, 4), fmt(row.loss, 6)]));
    const text = `${lines.join('\n')}\n`;
    if (out === '-') process.stdout.write(text);
    else writeFileAtomic(out, text);
    const bn = report.bn === 'recalibrated' ? `BN recalibrated on ${report.bnRecalibrate} batches` : `BN in ${report.bn} mode`;
    say(`ranked ${report.rows.length} of ${unique.length} genotypes on ${report.valImages} validation images each (${bn}), ` +
      `${report.leaves.length} leaf checkpoint${report.leaves.length === 1 ? '' : 's'} loaded, ${report.seconds.toFixed(1)} s` +
      (out === '-' ? '' : `\nwrote ${out}`));
    if (!report.rows.length) return 1;
    return 0;
  } finally {
    backend?.dispose();
  }
}
