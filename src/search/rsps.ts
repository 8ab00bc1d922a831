// RSPS, random sampling with parameter sharing (spec §2.4, `--method ws-rsws`): every forward runs one
// single path, each edge's op drawn uniformly from its enabled ops and redrawn while the cell is
// invalid by the space's rule (NB201: disconnected by 'none', src/spaces/nb201/connectivity.ts). No α step: the reference's "architect
// step" is a no-op on α (skipped here; its only effect was BN statistics of stem/reduction/head on
// validation data). Cell BNs do not track statistics (batch statistics even in eval mode).
// Selection: `selectionCandidates` (200) unique connected random architectures, each scored on the
// whole validation half in eval mode; the best top-1 wins (the first on ties).
import { tidy, noGrad, crossEntropy } from '../engine/index.js';
import type { ArchSample, Genotype } from '../spaces/space.js';
import { BaseMethod, type BaseMethodOptions, type DeriveOptions, type DeriveResult } from './method.js';
import { MetricAccumulator } from './metrics.js';
import { uploadBatch, isDeviceBatch, iterateEvalData, type HostBatch } from './batch.js';
import type { Rng } from '../data/rng.js';

export class Rsps extends BaseMethod {
  readonly name = 'rsps' as const;
  constructor(o: BaseMethodOptions) { super('rsps', o); }

  protected create(o: BaseMethodOptions): Rsps { return new Rsps(o); }

  override get hasArchStep(): boolean { return false; }

  sampleArch(o: { withGrad?: boolean; rng?: Rng } = {}): ArchSample {
    return this.space.singlePathSample(this.space.sampleSinglePath(o.rng ?? this.rng, this.mask));
  }

  /** Best of `candidates` unique random connected architectures by validation accuracy. */
  override async derive(o: DeriveOptions = {}): Promise<DeriveResult> {
    if (!o.valid) throw new Error('rsps.derive: needs validation data (valid) to score the candidates');
    const admitted = this.space.countSinglePaths(this.mask);
    const want = Math.min(o.candidates ?? this.hyper.selectionCandidates, admitted);
    if (!Number.isInteger(want) || want < 1) throw new Error(`rsps.derive: candidates must be a positive integer, got ${o.candidates}`);
    const seen = new Set<string>();
    const genotypes: Genotype[] = [];
    while (genotypes.length < want) {
      const g = this.space.sampleSinglePath(this.rng, this.mask);
      const key = g.join(',');
      if (!seen.has(key)) { seen.add(key); genotypes.push(g); }
    }
    const scores = await this.scoreGenotypes(genotypes, o.valid);
    let best = 0;
    scores.forEach((s, i) => { if (s.accuracy > scores[best].accuracy) best = i; });
    return {
      genotype: genotypes[best], genotypeString: this.space.formatGenotype(genotypes[best]),
      candidates: genotypes.map((g, i) => ({ genotype: this.space.formatGenotype(g), ...scores[i] })),
    };
  }

  /** Validation loss and accuracy of single paths in eval mode (stem/reduction/head BNs use running
   *  statistics, cell BNs batch statistics). One device read per candidate. */
  async scoreGenotypes(genotypes: Genotype[], valid: DeriveOptions['valid']): Promise<{ accuracy: number; loss: number }[]> {
    const wasTraining = this.supernet.training;
    this.supernet.eval();
    const out: { accuracy: number; loss: number }[] = [];
    try {
      for (const g of genotypes) {
        const acc = new MetricAccumulator(this.backend);
        const sample = this.space.singlePathSample(g);
        for (const b of iterateEvalData(valid!)) {
          tidy(() => noGrad(() => {
            const batch = isDeviceBatch(b) ? b : uploadBatch(this.backend, b as HostBatch, this.imageShape);
            const logits = this.supernet.forward(batch.x, sample);
            acc.add(crossEntropy(logits, batch.y), logits, batch.y);
          }));
        }
        const t = await acc.read();
        acc.dispose();
        out.push({ accuracy: t.accuracy, loss: t.loss });
      }
    } finally {
      this.supernet.train(wasTraining);
    }
    return out;
  }
}

