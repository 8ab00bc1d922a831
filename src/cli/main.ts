// Entry point of `node run.js`: routes to a command, turns errors into one clear line.
import { UsageError } from './args.js';

const USAGE = `gmnas — few-shot NAS by gradient matching (GM-NAS) on a WebGPU tensor engine

usage: node run.js [search] --space nb201 [flags]   run a search (default command; GM + DARTS)
       node run.js train --arch '<genotype>' ...     train one NB201 genotype from scratch
       node run.js selftest [--quick] [--json]       check every kernel on this machine's adapter
       node run.js rank --from RUN_DIR --archs FILE  score genotypes with a search's supernets
       node run.js correlate --pred F --truth F --column COL
       node run.js query --bench FILE --arch G       the benchmark row of one genotype
       node run.js verify RUN_DIR                    check a run folder's checksums and checkpoints
       node run.js worker --queue redis://HOST:PORT  take search jobs from a queue (several machines)
       node run.js <command> --help                  flags of one command

common flags: --device auto|webgpu|cpu   --seed N   --out DIR`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  search: async () => (await import('./search.js')).searchCommand,
  train: async () => (await import('./train.js')).trainCommand,
  selftest: async () => (await import('./selftest.js')).selftestCommand,
  rank: async () => (await import('./rank.js')).rankCommand,
  correlate: async () => (await import('./correlate.js')).correlateCommand,
  query: async () => (await import('./query.js')).queryCommand,
  verify: async () => (await import('./verify.js')).verifyCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
};

export async function main(argv: string[]): Promise<number> {
  let name = 'search';
  let rest = argv;
  if (argv.length && !argv[0].startsWith('-')) {
    name = argv[0];
    rest = argv.slice(1);
  }
  if (name === 'help' || (name === 'search' && (argv[0] === '--help' || argv[0] === '-h') )) {
    if (name === 'help' || argv.length === 1) { console.log(USAGE); return 0; }
  }
  const load = commands[name];
  if (!load) {
    console.error(`gmnas: unknown command '${name}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const cmd = await load();
    return await cmd(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError) {
      console.error(`gmnas: ${err.message}`);
      return 2;
    }
    console.error(`gmnas ${name}: ${err.message}`);
    if (process.env.GMNAS_DEBUG) console.error(err.stack);
    else console.error('(set GMNAS_DEBUG=1 for the stack trace)');
    return 1;
  }
}
