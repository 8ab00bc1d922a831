import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  NB201_OPS, NB201_EDGES, NUM_EDGES, NUM_OPS, edgeIndex, opIndex, fullMask, restrictMask, countAdmitted,
  countEnabled, enabledOps, unsplitEdges, maskAdmits, maskToString, parseMask, maskToRows, maskFromRows,
  masksEqual, assertOpMask,
} from '../../src/spaces/nb201/ops.js';
import {
  parseGenotype, formatGenotype, genotypeKey, genotypeFromKey, genotypeCode, genotypeFromCode, allGenotypes,
  NUM_GENOTYPES, genotypesEqual,
} from '../../src/spaces/nb201/genotype.js';
import {
  isConnected, sampleConnected, connectedGenotypes, maskAdmitsConnected, isParameterFree,
} from '../../src/spaces/nb201/connectivity.js';

const BEST = '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|';

/** mulberry32: a small seeded uniform source for the sampler tests. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Reachability of node 3 from node 0 by walking the edge list — independent of the four-path rule. */
function reachesOutput(g: readonly number[]): boolean {
  const reached = new Set([0]);
  for (let node = 1; node <= 3; node++) {
    if (NB201_EDGES.some((e) => e.to === node && reached.has(e.from) && g[e.eid] !== 0)) reached.add(node);
  }
  return reached.has(3);
}

test('ops and edges follow the reference order', () => {
  assert.equal([...NB201_OPS], ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3']);
  assert.equal(NB201_EDGES.map((e) => e.key), ['1<-0', '2<-0', '2<-1', '3<-0', '3<-1', '3<-2']);
  assert.is(edgeIndex(3, 1), 4);
  assert.is(opIndex('nor_conv_1x1'), 2);
  assert.throws(() => opIndex('conv_3x3'), /unknown NB201 op 'conv_3x3'.*valid ops: none, skip_connect/);
  assert.throws(() => edgeIndex(1, 2), /no edge 1<-2/);
});

test('op masks: full mask, restrict, count, admits, string and row forms', () => {
  const full = fullMask();
  assert.is(maskToString(full), '11111/11111/11111/11111/11111/11111');
  assert.is(countAdmitted(full), 15625);
  assert.is(countEnabled(full), 30);
  assert.equal(unsplitEdges(full), [0, 1, 2, 3, 4, 5]);

  const a = restrictMask(full, 2, [0, 3]);
  const b = restrictMask(a, 5, [1, 2, 4]);
  assert.is(maskToString(b), '11111/11111/10010/11111/11111/01101');
  assert.is(maskToString(full), '11111/11111/11111/11111/11111/11111', 'restrict must not mutate its input');
  assert.is(countAdmitted(b), 5 ** 4 * 2 * 3);
  assert.equal(enabledOps(b, 2), [0, 3]);
  assert.equal(unsplitEdges(b), [0, 1, 3, 4]);
  // Restricting again keeps only ops that were still enabled.
  assert.is(maskToString(restrictMask(b, 2, [3, 4])), '11111/11111/00010/11111/11111/01101');
  assert.throws(() => restrictMask(b, 2, [1, 2]), /leaves it no op/);
  assert.throws(() => restrictMask(b, 6, [1]), /edge index 6/);

  assert.ok(maskAdmits(b, [0, 0, 3, 0, 0, 1]));
  assert.not.ok(maskAdmits(b, [0, 0, 1, 0, 0, 1]));
  assert.not.ok(maskAdmits(b, [0, 0, 3, 0, 0, 0]));
  // Brute force: the admitted count equals the number of admitted genotypes.
  assert.is(allGenotypes().filter((g) => maskAdmits(b, g)).length, countAdmitted(b));

  assert.ok(masksEqual(parseMask(maskToString(b)), b));
  assert.ok(masksEqual(maskFromRows(maskToRows(b)), b));
  assert.equal(maskToRows(b)[2], [true, false, false, true, false]);
});

test('op masks: malformed strings and arrays are rejected with the reason', () => {
  assert.throws(() => parseMask('11111/11111'), /expected 6 '\/'-separated groups.*found 2/);
  assert.throws(() => parseMask('11111/11111/1111/11111/11111/11111'), /group 3 \('1111', edge 2<-1\) must be exactly 5 digits/);
  assert.throws(() => parseMask('11111/11111/11121/11111/11111/11111'), /group 3/);
  assert.throws(() => parseMask('11111/11111/11111/00000/11111/11111'), /edge 3 \(3<-0\) enables no op/);
  assert.throws(() => assertOpMask(new Uint8Array(29)), /30 entries, got a Uint8Array of length 29/);
  assert.throws(() => maskFromRows([[true]]), /expected 6 rows of 5 booleans/);
});

test('genotype strings: the best cell parses to the expected ops and formats back', () => {
  const g = parseGenotype(BEST);
  assert.equal([...g], [3, 3, 3, 1, 3, 3]);
  assert.is(formatGenotype(g), BEST);
  assert.is(genotypeKey(g), '333133');
  assert.equal([...genotypeFromKey('333133')], [3, 3, 3, 1, 3, 3]);
  // Base 5, edge 0 most significant: 3·5^5 + 3·5^4 + 3·5^3 + 1·5^2 + 3·5 + 3.
  assert.is(genotypeCode(g), 3 * 3125 + 3 * 625 + 3 * 125 + 25 + 15 + 3);
  assert.is(formatGenotype([0, 0, 0, 0, 0, 0]), '|none~0|+|none~0|none~1|+|none~0|none~1|none~2|');
});

test('genotype strings: all 15,625 cells round-trip and are distinct', () => {
  const all = allGenotypes();
  assert.is(all.length, NUM_GENOTYPES);
  const strings = new Set<string>();
  const keys = new Set<string>();
  all.forEach((g, code) => {
    const s = formatGenotype(g);
    strings.add(s);
    keys.add(genotypeKey(g));
    assert.ok(genotypesEqual(parseGenotype(s), g), s);
    assert.is(genotypeCode(g), code);
    assert.ok(genotypesEqual(genotypeFromCode(code), g));
  });
  assert.is(strings.size, NUM_GENOTYPES);
  assert.is(keys.size, NUM_GENOTYPES);
});

test('genotype strings: malformed ones say what is wrong and where', () => {
  const cases: [string, RegExp][] = [
    ['', /empty string/],
    [` ${BEST}`, /a space at character 1/],
    [BEST.replace('|+|', '| +|'), /a space at character 17/],
    [`${BEST}\n`, /a newline at character/],
    ['|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|', /expected 3 nodes separated by '\+', found 2/],
    [`${BEST}+|none~0|`, /found 4/],
    ['|conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|', /unknown op 'conv_3x3' in node 1 at character 2 \(valid ops: none/],
    ['|none~0|+|none~0|none~1|+|none~0|none~1|none~3|', /token 'none~3' in node 3 .* reads input '3', expected 2/],
    ['|none~0|+|none~1|none~0|+|none~0|none~1|none~2|', /node 2 .* reads input '1', expected 0/],
    ['|none~00|+|none~0|none~1|+|none~0|none~1|none~2|', /reads input '00', expected 0/],
    ['none~0|+|none~0|none~1|+|none~0|none~1|none~2|', /node 1 must start with '\|' \(character 1 is 'n'\)/],
    ['|none~0+|none~0|none~1|+|none~0|none~1|none~2|', /node 1 must end with '\|' \(character 7 is '0'\)/],
    ['|none~0|+|none~0|+|none~0|none~1|none~2|', /node 2 has 1 input, expected 2/],
    ['|none~0|+|none~0|none~1|+|none~0|none~1|', /node 3 has 2 inputs, expected 3/],
    ['|none~0|+|none~0||none~1|+|none~0|none~1|none~2|', /node 2 has 3 inputs/],
    ['|none~0|+|none~0|none~1|+|none~0||none~2|', /empty token in node 3 at character 34/],
    ['|none0|+|none~0|none~1|+|none~0|none~1|none~2|', /token 'none0' in node 1 at character 2 has no '~'/],
    ['|none~0~0|+|none~0|none~1|+|none~0|none~1|none~2|', /more than one '~'/],
    ['|none~0|++|none~0|none~1|none~2|', /found 4|node 2 is empty/],
    ['|none~0|+|+|none~0|none~1|none~2|', /node 2 has no inputs/],
  ];
  for (const [text, expected] of cases) {
    let message = '';
    try {
      parseGenotype(text);
    } catch (e) {
      message = (e as Error).message;
    }
    assert.ok(message.startsWith('invalid NB201 genotype'), `no error for ${JSON.stringify(text)}: '${message}'`);
    assert.match(message, expected, `for ${JSON.stringify(text)}`);
  }
  assert.throws(() => formatGenotype([0, 1, 2, 3, 4]), /array of 6 op indices, got length 5/);
  assert.throws(() => formatGenotype([0, 1, 2, 3, 4, 5]), /edge 5 has op index 5/);
  assert.throws(() => genotypeFromKey('12345'), /6 digits/);
  assert.throws(() => genotypeFromCode(15625), /not an integer in 0\.\.15624/);
});

test('connectivity: the four-path rule equals reachability on all 15,625 cells', () => {
  let connected = 0;
  for (const g of allGenotypes()) {
    assert.is(isConnected(g), reachesOutput(g), formatGenotype(g));
    if (isConnected(g)) connected++;
  }
  // 15625 − 341 disconnected cells; the same count was obtained with an independent Python BFS.
  assert.is(connected, 15284);
  assert.is(connectedGenotypes().length, 15284);
  // Hand-checked cases: only 3<-0 alive; only a dead-end branch alive; the long path 0→1→2→3.
  assert.ok(isConnected(parseGenotype('|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|')));
  assert.not.ok(isConnected(parseGenotype('|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|')));
  assert.ok(isConnected(parseGenotype('|avg_pool_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|')));
  assert.not.ok(isConnected(parseGenotype('|none~0|+|none~0|skip_connect~1|+|none~0|skip_connect~1|skip_connect~2|')));
});

test('sampleConnected: only connected, admitted cells, uniformly', () => {
  const rng = seeded(7);
  for (let i = 0; i < 2000; i++) {
    const g = sampleConnected(rng);
    assert.ok(isConnected(g));
  }
  // A mask admitting 16 cells of which 7 are connected: (e1 and e5 alive) or (e0 and e4 alive).
  const mask = parseMask('11000/10010/10000/10000/10001/11000');
  const support = connectedGenotypes(mask);
  assert.is(support.length, 7);
  const counts = new Map(support.map((g) => [genotypeKey(g), 0]));
  const draws = 14000;
  for (let i = 0; i < draws; i++) {
    const key = genotypeKey(sampleConnected(rng, mask));
    assert.ok(counts.has(key), `sampled ${key}, which the mask does not admit or is disconnected`);
    counts.set(key, counts.get(key)! + 1);
  }
  const expected = draws / support.length;
  let chi2 = 0;
  for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
  // χ² with 6 degrees of freedom exceeds 40 with probability about 3e-7.
  assert.ok(chi2 < 40, `chi-square ${chi2.toFixed(1)} against uniform over the ${support.length} connected cells`);
});

test('sampleConnected: a mask with no connected cell and a broken rng are reported', () => {
  // Every path to node 3 goes through an edge that only allows 'none'.
  const dead = parseMask('01111/11111/11111/10000/10000/10000');
  assert.not.ok(maskAdmitsConnected(dead));
  assert.is(connectedGenotypes(dead).length, 0);
  assert.throws(() => sampleConnected(seeded(1), dead), /op mask 01111\/11111\/11111\/10000\/10000\/10000 admits no connected cell/);
  assert.ok(maskAdmitsConnected(parseMask('01111/10000/01000/10000/10000/00100')));
  assert.throws(() => sampleConnected(() => 1), /rng returned 1/);
  assert.throws(() => sampleConnected({ next: () => -0.5 }), /rng returned -0.5/);
  assert.throws(() => sampleConnected(42 as unknown as () => number), /rng must have next\(\) or be a function/);
  // A generator object works like a function: the same stream gives the same cells.
  const f = seeded(5), o = seeded(5);
  for (let i = 0; i < 20; i++) assert.equal([...sampleConnected({ next: o })], [...sampleConnected(f)]);
  assert.throws(() => sampleConnected(() => Number.NaN), /rng returned NaN/);
});

test('parameter-free cells: only none, skip and pool', () => {
  assert.ok(isParameterFree(parseGenotype('|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|')));
  assert.not.ok(isParameterFree(parseGenotype(BEST)));
  assert.not.ok(isParameterFree(parseGenotype('|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|')));
  assert.is(allGenotypes().filter(isParameterFree).length, 3 ** NUM_EDGES);
  assert.is(NUM_OPS * NUM_EDGES, 30);
});

test.run();
