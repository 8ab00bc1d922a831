// Host-side algorithms whose speed the tests used to assert (tests assert behaviour, never time):
// Kendall τ-b and Spearman ρ on 20 000 tied items (O(n log n)), and the exact balanced min-cut of a
// 16-op edge into 4 groups (gmnas.wasm).
import { kendallTau, spearman } from '../src/stats/rank.js';
import { balancedMinCut, initGmnasWasm } from '../src/nas/cut.js';

export interface AlgorithmRow { bench: string; ms: number }

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

export async function benchAlgorithms(): Promise<AlgorithmRow[]> {
  const rng = lcg(3);
  const big = Array.from({ length: 20000 }, () => Math.round(rng() * 5000) / 100);
  const noisy = big.map((v) => v + rng() * 5);
  let t0 = performance.now();
  kendallTau(big, noisy);
  spearman(big, noisy);
  const rank = performance.now() - t0;
  await initGmnasWasm();
  const cluster = Array.from({ length: 16 }, (_, i) => (i * 7) % 4);
  const m = Array.from({ length: 16 }, (_, i) => Array.from({ length: 16 }, (_, j) => (i === j ? 0 : (cluster[i] === cluster[j] ? 0 : 1) + 0.01 * ((i * 31 + j * 17) % 7))));
  for (let i = 0; i < 16; i++) for (let j = 0; j < i; j++) m[i][j] = m[j][i];
  t0 = performance.now();
  balancedMinCut(m, 4);
  const cut = performance.now() - t0;
  return [{ bench: 'kendall+spearman-20000', ms: Math.round(rank) }, { bench: 'balanced-min-cut-n16-b4', ms: Math.round(cut) }];
}
