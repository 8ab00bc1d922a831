// NAS-Bench-201 genotypes: one op index per edge, in eid order, and their string forms.
//
// The canonical string is NB201's own (`GM:WS-GM/nasbench201/genotypes.py:53-59`, identical in ADL and
// the NB201 API, which maps exactly this string to an index):
//   |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|
// node 1, 2, 3 separated by '+'; node i lists `op~j` for j = 0..i-1 between '|'. Token order is eid order.
// NB201's own parser would accept inputs in any order, but its tables are keyed by this exact string, so
// we accept only the canonical form and say precisely what is wrong with anything else.
// Browser-safe: no node: imports.

import { NB201_OPS, NUM_EDGES, NUM_OPS, NUM_NODES } from './ops.js';

/** Op index (column of α, see NB201_OPS) per edge, in eid order; length 6. */
export type Genotype = readonly number[];

/** 5^6 cells. */
export const NUM_GENOTYPES = NUM_OPS ** NUM_EDGES;

/** Throws unless `g` is 6 integers in 0..4; `what` names it in the message. */
export function assertGenotype(g: Genotype, what = 'genotype'): void {
  if (!Array.isArray(g) || g.length !== NUM_EDGES) {
    throw new Error(`${what} must be an array of ${NUM_EDGES} op indices, got ${Array.isArray(g) ? `length ${g.length}` : typeof g}`);
  }
  g.forEach((o, e) => {
    if (!Number.isInteger(o) || o < 0 || o >= NUM_OPS) throw new Error(`${what}: edge ${e} has op index ${o}, expected an integer in 0..${NUM_OPS - 1}`);
  });
}

/** NB201's genotype string for `g`. */
export function formatGenotype(g: Genotype): string {
  assertGenotype(g);
  const nodes: string[] = [];
  let eid = 0;
  for (let node = 1; node < NUM_NODES; node++) {
    const tokens: string[] = [];
    for (let j = 0; j < node; j++) tokens.push(`${NB201_OPS[g[eid++]!]}~${j}`);
    nodes.push(`|${tokens.join('|')}|`);
  }
  return nodes.join('+');
}

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (c === '\t') return 'a tab';
  if (c === '\n') return 'a newline';
  if (c === '\r') return 'a carriage return';
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Parses NB201's genotype string. Rejects anything but the canonical form with an Error whose message
 * quotes the string and says what is wrong and at which character (1-based).
 */
export function parseGenotype(text: string): Genotype {
  if (typeof text !== 'string') throw new Error(`NB201 genotype must be a string, got ${typeof text}`);
  const shown = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  const fail = (what: string): never => {
    throw new Error(`invalid NB201 genotype ${JSON.stringify(shown)}: ${what}`);
  };
  if (text.length === 0) fail('empty string');
  const ws = text.search(/\s/);
  if (ws >= 0) fail(`${describeChar(text[ws]!)} at character ${ws + 1} (genotype strings contain no whitespace)`);

  // Node groups, with the offset where each starts.
  const groups: { body: string; start: number }[] = [];
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text[i] === '+') {
      groups.push({ body: text.slice(start, i), start });
      start = i + 1;
    }
  }
  if (groups.length !== NUM_NODES - 1) {
    fail(`expected ${NUM_NODES - 1} nodes separated by '+', found ${groups.length}`);
  }

  const genotype: number[] = [];
  groups.forEach(({ body, start: at }, n) => {
    const node = n + 1;
    if (body.length === 0) fail(`node ${node} is empty (character ${at + 1})`);
    if (body[0] !== '|') fail(`node ${node} must start with '|' (character ${at + 1} is '${body[0]}')`);
    if (body === '|') fail(`node ${node} has no inputs, expected ${node} (character ${at + 1})`);
    if (body[body.length - 1] !== '|') {
      fail(`node ${node} must end with '|' (character ${at + body.length} is '${body[body.length - 1]}')`);
    }
    const tokens = body.slice(1, -1).split('|');
    if (tokens.length !== node) {
      fail(`node ${node} has ${tokens.length} input${tokens.length === 1 ? '' : 's'}, expected ${node} (one per node 0..${node - 1})`);
    }
    let pos = at + 1; // offset of the current token
    tokens.forEach((token, j) => {
      const where = `character ${pos + 1}`;
      if (token.length === 0) fail(`empty token in node ${node} at ${where} ('||' or a missing op~input)`);
      const tilde = token.indexOf('~');
      if (tilde < 0) fail(`token '${token}' in node ${node} at ${where} has no '~' (expected op~input)`);
      if (token.indexOf('~', tilde + 1) >= 0) fail(`token '${token}' in node ${node} at ${where} has more than one '~'`);
      const name = token.slice(0, tilde);
      const input = token.slice(tilde + 1);
      const op = (NB201_OPS as readonly string[]).indexOf(name);
      if (op < 0) fail(`unknown op '${name}' in node ${node} at ${where} (valid ops: ${NB201_OPS.join(', ')})`);
      if (input !== String(j)) {
        fail(`token '${token}' in node ${node} at ${where} reads input '${input}', expected ${j} ` +
          `(node ${node} lists inputs 0..${node - 1} in order)`);
      }
      genotype.push(op);
      pos += token.length + 1;
    });
  });
  return genotype;
}

/**
 * A short identity string: the six op indices as digits in eid order, e.g. '333133'. Equal genotypes
 * have equal keys (the reference de-duplicates sampled architectures by such an op-id string).
 */
export function genotypeKey(g: Genotype): string {
  assertGenotype(g);
  return g.join('');
}

export function genotypeFromKey(key: string): Genotype {
  if (!/^[0-4]{6}$/.test(key)) throw new Error(`genotype key '${key}' must be ${NUM_EDGES} digits 0..${NUM_OPS - 1}`);
  return Array.from(key, (c) => c.charCodeAt(0) - 48);
}

/**
 * A dense integer 0..15624: base-5 digits in eid order, edge 0 most significant. This is our own
 * order for dense arrays, not the NB201 table index (tables carry their own `index` column).
 */
export function genotypeCode(g: Genotype): number {
  assertGenotype(g);
  let code = 0;
  for (const o of g) code = code * NUM_OPS + o;
  return code;
}

export function genotypeFromCode(code: number): Genotype {
  if (!Number.isInteger(code) || code < 0 || code >= NUM_GENOTYPES) {
    throw new Error(`genotype code ${code} is not an integer in 0..${NUM_GENOTYPES - 1}`);
  }
  const g = new Array<number>(NUM_EDGES);
  for (let e = NUM_EDGES - 1; e >= 0; e--) {
    g[e] = code % NUM_OPS;
    code = Math.floor(code / NUM_OPS);
  }
  return g;
}

/** All 15,625 genotypes, in `genotypeCode` order. */
export function allGenotypes(): Genotype[] {
  return Array.from({ length: NUM_GENOTYPES }, (_, code) => genotypeFromCode(code));
}

export function genotypesEqual(a: Genotype, b: Genotype): boolean {
  return a.length === b.length && a.every((o, i) => o === b[i]);
}
