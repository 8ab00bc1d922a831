// DARTS genotypes: the DARTS repository's text form, its derivation rule, and the space's encoding.
//
// Text (Python's repr of the reference's `Genotype` namedtuple, as its genotypes.py and search logs
// print it):
//   Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), …], normal_concat=range(2, 6),
//            reduce=[…], reduce_concat=range(2, 6))
// Each cell lists 2 (op, input state) pairs per intermediate node, node by node (8 pairs); input
// states 0 and 1 are the cell inputs, 2 + k is node k. Both concats must be the 4 intermediate nodes,
// written `range(2, 6)` or `[2, 3, 4, 5]` (genotypes.py spells them as lists). Either quote style and
// any spacing are accepted; `formatGenotype` writes the repr form above.
//
// Encoding (a space Genotype, src/spaces/space.ts): one value per decision — rows 0..13 the normal
// cell's edges, 14..27 the reduction cell's (CELL_EDGES order) — holding −1 for an edge the genotype
// does not use, else `column + cols × slot`, where slot 0/1 is the pair's position within its node in
// the text. The slot keeps the written order, which fixes the eval network's `_ops.{k}` names (and so
// PyTorch checkpoint compatibility) and makes parse → format an identity. A single path (RSPS) uses
// every edge with slot 0. Browser-safe: no node: imports.
import { CELL_EDGES, EDGES_PER_CELL, STEPS } from './ops.js';

/** One (op, input state) pair of a cell. */
export interface CellPair { readonly op: string; readonly from: number }

/** The text's content: 8 pairs per cell, node by node, in written order. */
export interface DartsGenotypeText { readonly normal: readonly CellPair[]; readonly reduce: readonly CellPair[] }

export const CELL_NAMES = ['normal', 'reduce'] as const;

// ---- text ----------------------------------------------------------------------------------------

type Token = { kind: 'ident' | 'num' | 'str' | 'punct'; text: string; at: number };

function tokenize(text: string, fail: (what: string) => never): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ kind: 'ident', text: m[0], at: i }); i += m[0].length; continue;
    }
    if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+/.exec(text.slice(i));
      if (!m) fail(`unexpected '${c}' at character ${i + 1}`);
      out.push({ kind: 'num', text: m![0], at: i }); i += m![0].length; continue;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail(`unterminated string starting at character ${i + 1}`);
      out.push({ kind: 'str', text: text.slice(i + 1, end), at: i }); i = end + 1; continue;
    }
    if ('()[],='.includes(c)) { out.push({ kind: 'punct', text: c, at: i }); i++; continue; }
    fail(`unexpected '${c}' at character ${i + 1}`);
  }
  return out;
}

/** Parses the DARTS repository's genotype text; every error names what is wrong and where. */
export function parseGenotypeText(text: string): DartsGenotypeText {
  if (typeof text !== 'string') throw new Error(`DARTS genotype must be a string, got ${typeof text}`);
  const shown = text.length > 160 ? `${text.slice(0, 160)}…` : text;
  const fail = (what: string): never => { throw new Error(`invalid DARTS genotype ${JSON.stringify(shown)}: ${what}`); };
  if (text.trim() === '') fail('empty string');
  const toks = tokenize(text, fail);
  let p = 0;
  const where = (): string => (p < toks.length ? `at character ${toks[p]!.at + 1}` : 'at the end');
  const expect = (s: string): void => {
    const t = toks[p];
    if (!t || t.text !== s || (t.kind !== 'punct' && t.kind !== 'ident')) fail(`expected '${s}' ${where()}${t ? `, found '${t.text}'` : ''}`);
    p++;
  };
  const peek = (s: string): boolean => toks[p]?.text === s && toks[p]?.kind !== 'str';
  const int = (): number => {
    const t = toks[p];
    if (!t || t.kind !== 'num') fail(`expected an integer ${where()}`);
    p++;
    return Number(t!.text);
  };
  const pairs = (cell: string): CellPair[] => {
    const out: CellPair[] = [];
    expect('[');
    while (!peek(']')) {
      expect('(');
      const t = toks[p];
      if (!t || t.kind !== 'str') fail(`${cell}: expected a quoted op name ${where()}`);
      p++;
      expect(',');
      const from = int();
      expect(')');
      out.push({ op: t!.text, from });
      if (!peek(']')) expect(',');
    }
    expect(']');
    return out;
  };
  const concat = (name: string): number[] => {
    if (peek('range')) {
      p++; expect('('); const a = int(); expect(','); const b = int(); expect(')');
      return Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
    }
    const out: number[] = [];
    if (!peek('[')) fail(`${name}: expected range(2, 6) or [2, 3, 4, 5] ${where()}`);
    expect('[');
    while (!peek(']')) { out.push(int()); if (!peek(']')) expect(','); }
    expect(']');
    return out;
  };
  expect('Genotype');
  expect('(');
  const fields = new Map<string, CellPair[] | number[]>();
  while (!peek(')')) {
    const t = toks[p];
    if (!t || t.kind !== 'ident') fail(`expected a field name (normal, normal_concat, reduce, reduce_concat) ${where()}`);
    const name = t!.text;
    if (!['normal', 'normal_concat', 'reduce', 'reduce_concat'].includes(name)) fail(`unknown field '${name}' (expected normal, normal_concat, reduce, reduce_concat)`);
    if (fields.has(name)) fail(`field '${name}' given twice`);
    p++;
    expect('=');
    fields.set(name, name.endsWith('_concat') ? concat(name) : pairs(name));
    if (!peek(')')) expect(',');
  }
  expect(')');
  if (p < toks.length) fail(`unexpected '${toks[p]!.text}' after the closing parenthesis (character ${toks[p]!.at + 1})`);
  for (const f of ['normal', 'normal_concat', 'reduce', 'reduce_concat']) if (!fields.has(f)) fail(`missing field '${f}'`);
  for (const cell of CELL_NAMES) {
    const c = fields.get(`${cell}_concat`) as number[];
    if (c.length !== STEPS || c.some((v, i) => v !== i + 2)) fail(`${cell}_concat is [${c.join(', ')}], expected range(2, 6) (the 4 intermediate nodes)`);
    const list = fields.get(cell) as CellPair[];
    if (list.length !== 2 * STEPS) fail(`${cell} has ${list.length} (op, input) pairs, expected ${2 * STEPS} (2 per node)`);
    list.forEach((pair, k) => {
      const node = Math.floor(k / 2);
      if (!Number.isInteger(pair.from) || pair.from < 0 || pair.from > node + 1) {
        fail(`${cell} pair ${k + 1} ('${pair.op}', ${pair.from}) feeds node ${node + 2}, whose inputs are states 0..${node + 1}`);
      }
    });
    for (let node = 0; node < STEPS; node++) {
      if (list[2 * node]!.from === list[2 * node + 1]!.from) {
        fail(`${cell} node ${node + 2} takes both inputs from state ${list[2 * node]!.from}; DARTS cells use two distinct input edges per node`);
      }
    }
  }
  return { normal: fields.get('normal') as CellPair[], reduce: fields.get('reduce') as CellPair[] };
}

/** The repr form: `Genotype(normal=[('op', j), …], normal_concat=range(2, 6), reduce=[…], reduce_concat=range(2, 6))`. */
export function formatGenotypeText(g: DartsGenotypeText): string {
  const list = (pairs: readonly CellPair[]): string => `[${pairs.map((q) => `('${q.op}', ${q.from})`).join(', ')}]`;
  return `Genotype(normal=${list(g.normal)}, normal_concat=range(2, 6), reduce=${list(g.reduce)}, reduce_concat=range(2, 6))`;
}

// ---- encoding ------------------------------------------------------------------------------------

/** Row of edge (node, from) of cell `cell` (0 normal, 1 reduce). */
export function edgeRow(cell: number, node: number, from: number): number {
  const e = CELL_EDGES.find((x) => x.node === node && x.from === from);
  if (!e) throw new Error(`DARTS cells have no edge from state ${from} into node ${node + 2}`);
  return cell * EDGES_PER_CELL + e.index;
}

/** Text → space encoding over `ops` (the space's op columns); unknown ops and 'none' are errors. */
export function encodeGenotype(g: DartsGenotypeText, ops: readonly string[]): number[] {
  const cols = ops.length;
  const out = new Array<number>(2 * EDGES_PER_CELL).fill(-1);
  CELL_NAMES.forEach((cell, c) => {
    g[cell].forEach((pair, k) => {
      const col = ops.indexOf(pair.op);
      if (pair.op === 'none') throw new Error(`DARTS genotype: ${cell} pair ${k + 1} is 'none'; a derived cell never uses it`);
      if (col < 0) throw new Error(`DARTS genotype: ${cell} pair ${k + 1} has op '${pair.op}', not in this space (ops: ${ops.join(', ')})`);
      out[edgeRow(c, Math.floor(k / 2), pair.from)] = col + cols * (k % 2);
    });
  });
  return out;
}

/** Space encoding → text; throws unless every node uses exactly two edges with slots 0 and 1. */
export function decodeGenotype(g: readonly number[], ops: readonly string[]): DartsGenotypeText {
  const cols = ops.length;
  if (!Array.isArray(g) || g.length !== 2 * EDGES_PER_CELL) throw new Error(`DARTS genotype must have ${2 * EDGES_PER_CELL} entries, got ${Array.isArray(g) ? g.length : typeof g}`);
  const cellsOut = CELL_NAMES.map((cell, c) => {
    const pairs: CellPair[] = [];
    for (let node = 0; node < STEPS; node++) {
      const slots: (CellPair | undefined)[] = [undefined, undefined];
      for (const e of CELL_EDGES) {
        if (e.node !== node) continue;
        const v = g[c * EDGES_PER_CELL + e.index]!;
        if (v === -1) continue;
        if (!Number.isInteger(v) || v < 0 || v >= 2 * cols) throw new Error(`DARTS genotype: ${cell} edge ${e.from}→${node + 2} has value ${v}`);
        const slot = Math.floor(v / cols);
        if (slots[slot]) throw new Error(`DARTS genotype: ${cell} node ${node + 2} has two edges in slot ${slot} (not a derived cell; a single path cannot be written as a Genotype)`);
        slots[slot] = { op: ops[v % cols]!, from: e.from };
      }
      if (!slots[0] || !slots[1]) throw new Error(`DARTS genotype: ${cell} node ${node + 2} does not use exactly two input edges`);
      pairs.push(slots[0], slots[1]);
    }
    return pairs;
  });
  return { normal: cellsOut[0]!, reduce: cellsOut[1]! };
}

// ---- derivation ----------------------------------------------------------------------------------

/**
 * The reference's `_parse` on one cell's weights W (rows = the cell's 14 edges, entries of masked
 * ops 0): per node, the two input edges with the largest max weight over ops other than 'none'
 * (stable: the lower input first on ties), each with its best op other than 'none' (the first on
 * ties), in that order.
 */
export function parseCellWeights(W: readonly (readonly number[])[], ops: readonly string[], enabled: (row: number, col: number) => boolean): CellPair[] {
  const none = ops.indexOf('none');
  const pairs: CellPair[] = [];
  let offset = 0;
  for (let node = 0; node < STEPS; node++) {
    const n = node + 2;
    const strength = (j: number): number => {
      let m = -Infinity;
      W[offset + j]!.forEach((v, k) => { if (k !== none && enabled(offset + j, k) && v > m) m = v; });
      return m;
    };
    const s = Array.from({ length: n }, (_, j) => strength(j));
    const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => (s[b]! > s[a]! ? 1 : s[b]! < s[a]! ? -1 : 0));
    for (const j of order.slice(0, 2)) {
      let best = -1;
      W[offset + j]!.forEach((v, k) => { if (k !== none && enabled(offset + j, k) && (best < 0 || v > W[offset + j]![best]!)) best = k; });
      if (best < 0) throw new Error(`DARTS derive: edge ${j}→${node + 2} has no op other than 'none' enabled`);
      pairs.push({ op: ops[best]!, from: j });
    }
    offset += n;
  }
  return pairs;
}
