// report.html: a real 'tiny' GM search on the CPU backend rendered to one self-contained document —
// offline (no URLs, no scripts), balanced markup, one heatmap per split and per candidate edge with
// every distance printed, one tree node element per node, curves per leaf, all text escaped. The
// sample is written to test-output/report-sample.html for a human to open.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../../src/engine/cpu/cpu-backend.js';
import { generateSynthetic } from '../../src/data/synthetic.js';
import { defaultSearchConfig } from '../../src/nas/config.js';
import { runSearch, type SearchResult } from '../../src/nas/search.js';
import { MemoryStore } from '../../src/nas/store.js';
import { prepareSearchData } from '../../src/nas/phases.js';
import { renderReport, heatmapSvg, treeSvg, escapeHtml, lineChartSvg } from '../../src/report/html.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');

let cached: Promise<SearchResult> | null = null;
function realResult(): Promise<SearchResult> {
  if (!cached) {
    const config = defaultSearchConfig({ preset: 'tiny' });
    const data = prepareSearchData(config, generateSynthetic({ split: 'train', size: 128, seed: 0 }));
    const testSet = generateSynthetic({ split: 'test', size: 64, seed: 0 });
    cached = runSearch({ config, backend: new CpuBackend(), data, store: new MemoryStore(), deviceName: 'cpu', testSet });
  }
  return cached;
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const count = (text: string, needle: string): number => text.split(needle).length - 1;

/** Every non-void element closes, in order (a cheap well-formedness check; no attribute holds '<' or '>'). */
function assertBalanced(html: string): void {
  const voids = new Set(['meta', 'br', 'hr', 'img', 'link', 'input']);
  const stack: string[] = [];
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^<>]*?)(\/?)>/g)) {
    const [, close, rawName, , selfClose] = m;
    const name = rawName!.toLowerCase();
    if (voids.has(name) || selfClose) continue;
    if (!close) { stack.push(name); continue; }
    const open = stack.pop();
    assert.is(open, name, `</${name}> closes <${open}> at offset ${m.index}`);
  }
  assert.equal(stack, [], `unclosed elements: ${stack.join(', ')}`);
}

test('the report of a real GM search is one offline, well-formed document', async () => {
  const r = await realResult();
  const html = renderReport(r);
  assert.ok(html.startsWith('<!doctype html>'));
  assert.ok(html.trimEnd().endsWith('</html>'));
  assert.not.match(html, /https?:\/\//);
  assert.not.match(html, /<script/i);
  assert.not.match(html, /\burl\(/i); // no CSS fetches
  assert.not.match(html, /<link\b/i);
  assert.not.ok(html.includes('<-'), 'an edge key like 3<-0 went out unescaped');
  assertBalanced(html);
  // header
  for (const s of [r.space, r.method, r.base, r.device, r.dataset.name, r.startedAt, r.finishedAt]) assert.ok(html.includes(escapeHtml(s)), s);
  assert.ok(html.includes('total time'));
  // final pick, not an oracle
  assert.ok(html.includes(`<code class="genotype">${escapeHtml(r.final.genotype)}</code>`));
  assert.ok(html.includes(escapeHtml(r.final.selectedBy)));
  assert.not.ok(html.includes('badge oracle'));
  // the retrained final genotype (tiny preset: 1 epoch)
  assert.ok(r.final.retrain);
  assert.ok(html.includes('Retrained stand-alone'));
  assert.ok(html.includes(`${r.final.retrain!.testAccuracy.toFixed(2)} %`));
  // one scores row per leaf
  for (const l of r.leaves) assert.ok(html.includes(`<code>${escapeHtml(l.genotype)}</code>`), `leaf ${l.node}`);
  assert.is(count(html, '<tr class="final">'), 1);
  // the config
  assert.ok(html.includes(escapeHtml(JSON.stringify(r.config, null, 2))));
  // the timings
  for (const k of Object.keys(r.timings)) assert.ok(html.includes(`<td>${escapeHtml(k)}</td>`), k);
});

test('one heatmap per split and per candidate edge, every distance printed with 3 decimals', async () => {
  const r = await realResult();
  const html = renderReport(r);
  assert.is(r.splits.length, 3);
  const expected = r.splits.reduce((n, s) => n + (s.distance ? 1 : 0) + (s.candidates?.length ?? 0), 0);
  assert.ok(expected >= 3 + 6 + 5 + 5, `expected candidates for every unsplit edge, got ${expected} heatmaps`);
  assert.is(count(html, '<svg class="heatmap'), expected);
  assert.is(count(html, '<svg class="heatmap chosen"'), 2 * r.splits.length); // the big one + the chosen candidate
  for (const s of r.splits) {
    for (const m of [s.distance!, ...s.candidates!.map((c) => c.distance)]) {
      for (const row of m) for (const v of row) assert.ok(html.includes(`>${v.toFixed(3)}</text>`), `distance ${v}`);
    }
    for (const c of s.candidates!) assert.ok(html.includes(`cut ${c.cutScore.toFixed(3)}`), `cut score of edge ${c.edge}`);
    assert.ok(html.includes(`split on edge ${s.edge} (${escapeHtml(s.edgeName)})`));
  }
  // precision is an option
  const two = renderReport(r, { precision: 2 });
  const v = r.splits[0].distance![0][1];
  assert.ok(two.includes(`>${v.toFixed(2)}</text>`));
});

test('the tree has one node element per tree node; curves are drawn per leaf', async () => {
  const r = await realResult();
  const html = renderReport(r);
  assert.is(count(html, 'class="tree-node"'), r.tree.nodes.length);
  for (const n of r.tree.nodes) assert.ok(html.includes(`<g class="tree-node" data-node="${n.id}">`), `node ${n.id}`);
  const svg = treeSvg(r);
  assert.is(count(svg, 'class="tree-node"'), r.tree.nodes.length);
  assert.is(count(svg, 'class="mask-cell"'), r.tree.nodes.length * 30);
  assert.is(count(svg, 'class="tree-edge"'), r.tree.nodes.length - 1);
  assert.ok(svg.includes('★ final'));
  // two overview charts + loss and accuracy per leaf, each with a marker per epoch
  assert.is(count(html, '<svg class="curve"'), 2 + 2 * r.leaves.length);
  const epochs = r.leaves.reduce((n, l) => n + l.history.length, 0);
  assert.is(count(html, '<circle '), 4 * epochs);
  // a tree without results (the browser demo, mid-run) still draws
  const partial = treeSvg({ tree: r.tree, splits: r.splits });
  assert.is(count(partial, 'class="tree-node"'), r.tree.nodes.length);
});

test('text from the result is escaped everywhere (a <script> in genotype-like fields)', async () => {
  const r = clone(await realResult());
  const evil = '<script>alert("x")</script>|nor_conv_3x3~0|';
  r.final.genotype = evil;
  r.leaves[0].genotype = evil;
  r.final.scores[0].genotype = evil;
  r.dataset.name = '<img src=x onerror=alert(1)>';
  r.device = 'gpu "quoted" & <b>bold</b>';
  r.failedLeaves = [{ node: 99, error: 'boom </td><script>x</script>' }];
  r.splits[0].groups[0] = ['<svg onload=alert(1)>', ...r.splits[0].groups[0].slice(1)];
  r.timings['<i>phase</i>'] = 1;
  const html = renderReport(r);
  assert.not.match(html, /<script/i);
  assert.not.match(html, /<img/i);
  assert.not.match(html, /<svg onload/i);
  assert.not.match(html, /<b>bold/);
  assert.not.match(html, /<i>phase/);
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;|nor_conv_3x3~0|'));
  assert.ok(html.includes('gpu &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;'));
  assertBalanced(html);
  assert.is(escapeHtml(`a<b>&"'`), 'a&lt;b&gt;&amp;&quot;&#39;');
});

test('oracle picks are labelled, bench values and halving rounds are shown; splits without a matrix draw none', async () => {
  const r = clone(await realResult());
  r.final.selectedBy = 'bench';
  r.final.oracle = true;
  r.final.bench = { arch_str: r.final.genotype, cifar10_test: 93.76, params: 1.2 };
  r.leaves.forEach((l, i) => { l.bench = { arch_str: l.genotype, cifar10_test: 80 + i * 0.5 }; });
  r.final.halving = { rounds: [{ round: 0, epochs: 1, candidates: [3, 4], scores: [10, 12.5], kept: [4] }] };
  const html = renderReport(r);
  assert.ok(html.includes('<span class="badge oracle">ORACLE</span>'));
  assert.ok(html.includes('Oracle pick'));
  assert.ok(html.includes('<th>cifar10_test</th>'));
  assert.ok(html.includes('93.76') && html.includes('81.50'));
  assert.ok(html.includes('score (bench)'));
  assert.ok(html.includes('Successive halving'));
  assertBalanced(html);

  // few-shot / random: no distance matrices
  const f = clone(await realResult());
  for (const s of f.splits) { s.distance = null; s.cutScore = null; delete s.candidates; s.criterion = 'random'; }
  const fh = renderReport(f);
  assert.is(count(fh, '<svg class="heatmap'), 0);
  assert.ok(fh.includes('No distance matrix'));
  assert.is(count(fh, 'class="tree-node"'), f.tree.nodes.length);
  assertBalanced(fh);

  // one-shot: one node, no splits
  const o = clone(await realResult());
  o.tree = { nodes: [{ ...o.tree.nodes[0], children: [] }] };
  o.splits = [];
  o.leaves = [{ ...o.leaves[0], node: 0, mask: o.tree.nodes[0].mask }];
  o.final = { ...o.final, node: 0, scores: [{ node: 0, genotype: o.leaves[0].genotype, score: 1 }] };
  const oh = renderReport(o);
  assert.is(count(oh, 'class="tree-node"'), 1);
  assert.ok(oh.includes('No splits'));
  assertBalanced(oh);
});

test('cost-model figures and the retrained latency are shown with the budget', async () => {
  const r = clone(await realResult());
  r.final.cost = { params: 285346, macs: 399400, resolution: 16 };
  r.config.maxMacs = 500000;
  const html = renderReport(r);
  assert.ok(html.includes('<b>285346</b> parameters, <b>399400</b> multiply-adds per image at 16×16'));
  assert.ok(html.includes('budget: ≤ 500000 multiply-adds'));
  assert.not.ok(renderReport(clone(await realResult())).includes('class="cost"'));
  if (r.final.retrain) {
    r.final.retrain.latency = [{ batch: 1, medianMs: 3.25, repeats: 5 }, { batch: 64, medianMs: 40, repeats: 5 }];
    assert.ok(renderReport(r).includes('batch 1 3.3 ms, batch 64 40.0 ms'));
  }
  assertBalanced(html);
});

test('heatmapSvg and lineChartSvg on their own', () => {
  const svg = heatmapSvg([[0, 0.25], [0.25, 0]], ['<a>', 'b'], { precision: 2, groups: [[0], [1]], title: 'x & y', legend: false });
  assert.ok(svg.startsWith('<svg class="heatmap"'));
  assert.is(count(svg, '>0.25</text>'), 2);
  assert.is(count(svg, '>0.00</text>'), 2);
  assert.ok(svg.includes('&lt;a&gt;') && svg.includes('x &amp; y'));
  assert.not.ok(svg.includes('<a>'));
  assertBalanced(svg);
  const nan = heatmapSvg([[0, NaN], [NaN, 0]], ['a', 'b'], { legend: false });
  assert.is(count(nan, '>—</text>'), 2);
  const chart = lineChartSvg([{ name: 's', points: [[1, 2], [2, 1.5], [3, 1.2]] }], { title: 't', xLabel: 'epoch', integerX: true });
  assert.ok(chart.includes('<polyline'));
  assert.is(count(chart, '<circle '), 3);
  assertBalanced(chart);
  assert.ok(lineChartSvg([{ name: 'empty', points: [] }]).includes('no data'));
  // accuracies never get a negative axis
  const acc = lineChartSvg([{ name: 'acc', points: [[3, 0]] }], { integerX: true, yMin: 0 });
  assert.not.match(acc, />-[0-9.]+<\/text>/);
});

test('writes test-output/report-sample.html, the same document renderReport returns', async () => {
  const r = await realResult();
  const dir = join(root, 'test-output');
  mkdirSync(dir, { recursive: true });
  const html = renderReport(r);
  writeFileSync(join(dir, 'report-sample.html'), html);
  assert.is(readFileSync(join(dir, 'report-sample.html'), 'utf8'), html);
  assert.match(html, /^<!doctype html>/i);
  assert.ok(html.includes(r.final.genotype), 'the final genotype is in the sample report');
});

test.run();
