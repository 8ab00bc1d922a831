// Progress display of long commands: on a terminal, one cli-progress bar per running phase/node
// (several at once when the pool trains leaves in parallel); otherwise (CI logs, pipes) one line per
// finished epoch or split edge, so logs stay readable.
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../nas/phases.js';

export interface ProgressView {
  event(e: ProgressEvent): void;
  log(line: string): void;
  stop(): void;
}

export function createProgressView(o: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressView {
  const stream = o.stream ?? process.stderr;
  if (o.quiet) return { event: () => {}, log: () => {}, stop: () => {} };
  if (!stream.isTTY) {
    return {
      event: (e) => {
        // one line per finished epoch (the event that carries its metrics) or finished GM edge
        const finished = e.phase === 'warmup' || e.phase === 'leaf' || e.phase === 'retrain' ? e.loss !== undefined : e.done === e.total;
        if (!finished) return;
        const metrics = e.loss !== undefined ? `  loss ${e.loss.toFixed(4)}  acc ${e.accuracy!.toFixed(1)} %` : '';
        stream.write(`[${e.phase}] ${e.label}${metrics}\n`);
      },
      log: (line) => stream.write(`${line}\n`),
      stop: () => {},
    };
  }
  const multi = new cliProgress.MultiBar({
    stream, hideCursor: true, clearOnComplete: false, autopadding: true, barsize: 24, fps: 5,
    format: '{phase} |{bar}| {value}/{total} {label} {metrics}',
  }, cliProgress.Presets.shades_classic);
  // one bar per (phase, node): it shows the current epoch or edge, with the last epoch's metrics
  const bars = new Map<string, ReturnType<typeof multi.create>>();
  const lastMetrics = new Map<string, string>();
  return {
    event: (e) => {
      const key = `${e.phase}:${e.node}`;
      let bar = bars.get(key);
      if (e.loss !== undefined) lastMetrics.set(key, `loss ${e.loss.toFixed(3)} acc ${e.accuracy!.toFixed(1)}%`);
      const payload = { phase: e.phase.padEnd(6), label: e.label, metrics: lastMetrics.get(key) ?? '' };
      if (!bar) {
        bar = multi.create(e.total, e.done, payload);
        bars.set(key, bar);
      }
      bar.setTotal(e.total);
      bar.update(e.done, payload);
    },
    log: (line) => multi.log(`${line}\n`),
    stop: () => multi.stop(),
  };
}
