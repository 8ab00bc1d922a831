#!/usr/bin/env bash
# Does the search find good cells? (issue [quality] item 4). At the default budget (the quick preset on
# the embedded Fashion-MNIST), for each seed: GM + DARTS, one-shot DARTS, few-shot (5 leaves) + DARTS,
# random split + DARTS — each search retrains its final genotype with the fixed protocol of
# src/nas/retrain.ts (final.retrain) — plus the free parameter-count pick (the largest NB201 cell)
# and a reference sample of uniformly drawn NB201 cells, all retrained with the same protocol
# (`node run.js train --like RUN --arch G`), so every pick is also a percentile of the sample.
# Writes OUT/quality.md and OUT/quality.json; a rerun reuses every finished search and retraining.
#
#   experiments/quality.sh [--tiny] [--seeds "0 1 2"] [--ref-size 50] [--device D] [--workers N] [--out DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GMNAS=(node "$ROOT/run.js")

usage() {
  cat <<'USAGE'
usage: experiments/quality.sh [--tiny] [flags]

  --tiny            plumbing check in seconds: preset tiny on synthetic data, seed 0, 4 reference cells
  --seeds LIST      seeds of every method (default "0 1 2"; --tiny "0")
  --ref-size K      uniformly drawn NB201 cells in the reference sample (default 50; --tiny 4)
  --device D        auto | webgpu | cpu (default auto)
  --workers N       leaves trained in parallel by each search (default: the search's own default)
  --leaf-methods L  split methods whose every leaf is retrained for the selector table (default
                    "gm fewshot random"; "" for none)
  --out DIR         output folder (default runs/quality[-tiny]); a rerun reuses finished steps
  extra search flags after `--` go to every search (e.g. -- --retrain-epochs 5)
USAGE
}
die() { echo "quality.sh: $*" >&2; exit 2; }
need() { [ "$#" -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }

tiny=0 seeds='' ref_size='' device=auto workers='' out='' extra=() leaf_methods='gm fewshot random'
while [ "$#" -gt 0 ]; do
  case "$1" in
    --tiny) tiny=1 ;;
    --seeds) need "$@"; seeds=$2; shift ;;
    --ref-size) need "$@"; ref_size=$2; shift ;;
    --device) need "$@"; device=$2; shift ;;
    --workers) need "$@"; workers=$2; shift ;;
    --leaf-methods) [ "$#" -ge 2 ] || die "--leaf-methods needs a value"; leaf_methods=$2; shift ;;
    --out) need "$@"; out=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
if [ "$tiny" = 1 ]; then
  : "${seeds:=0}"; : "${ref_size:=4}"; : "${out:=runs/quality-tiny}"
  mode_flags=(--preset tiny --dataset synthetic --synthetic-size 128)
else
  : "${seeds:=0 1 2}"; : "${ref_size:=50}"; : "${out:=runs/quality}"
  mode_flags=()
fi
for s in $seeds; do [[ "$s" =~ ^[0-9]+$ ]] || die "--seeds '$seeds': expected non-negative integers"; done
[[ "$ref_size" =~ ^[0-9]+$ ]] && [ "$ref_size" -ge 2 ] || die "--ref-size $ref_size: expected an integer >= 2"
[ -z "$workers" ] || [[ "$workers" =~ ^[0-9]+$ ]] || die "--workers $workers: expected a positive integer"
[ -f "$ROOT/dist/src/cli/main.js" ] || die "dist/ is missing: run 'npm install' (or 'node scripts/build.mjs') in $ROOT"
mkdir -p "$out"
out=$(cd "$out" && pwd)
read -r -a seed_list <<<"$seeds"
first_seed=${seed_list[0]}

log() { echo "[quality] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
search_flags=(--space nb201 --device "$device" --quiet "${mode_flags[@]}")
[ -n "$workers" ] && search_flags+=(--workers "$workers")
search_flags+=("${extra[@]}")

# ---- the searches (each retrains its own final genotype) -------------------------------------------
METHODS=(gm oneshot fewshot random)
mkdir -p "$out/runs" "$out/times" "$out/logs"
for seed in "${seed_list[@]}"; do
  for method in "${METHODS[@]}"; do
    run=$out/runs/$method-s$seed
    if [ -f "$run/result.json" ]; then log "$method seed $seed: done ($run)"; continue; fi
    t0=$(now)
    if [ -f "$run/state.json" ]; then
      log "$method seed $seed: resuming $run"
      "${GMNAS[@]}" --resume "$run" --device "$device" --quiet >"$out/logs/$method-s$seed.log" 2>&1 ||
        { tail -n 20 "$out/logs/$method-s$seed.log" >&2; die "$method seed $seed failed (log: $out/logs/$method-s$seed.log)"; }
    else
      log "$method seed $seed: search"
      "${GMNAS[@]}" "${search_flags[@]}" --method "$method" --seed "$seed" --out "$run" >"$out/logs/$method-s$seed.log" 2>&1 ||
        { tail -n 20 "$out/logs/$method-s$seed.log" >&2; die "$method seed $seed failed (log: $out/logs/$method-s$seed.log)"; }
    fi
    elapsed "$t0" >"$out/times/$method-s$seed"
  done
done
protocol_run=$out/runs/gm-s$first_seed

# ---- cells retrained with a search's protocol --------------------------------------------------------
# Every figure comes from one retraining protocol: this build's (src/nas/retrain.ts
# RETRAIN_PROTOCOL_VERSION). A retraining of another version — a search's own final.retrain or a
# result.json left by an earlier build — is done again rather than mixed in.
protocol_version=$(node "$ROOT/experiments/protocol-current.mjs" --print-version)
# current FILE FIELD: FILE exists and its retraining (the JSON path FIELD, e.g. retrain) is of this protocol
current() { node "$ROOT/experiments/protocol-current.mjs" "$1" "$2" </dev/null; }
# retrain DIR GENOTYPE LIKE_RUN: `train --like`, skipped when DIR/result.json holds this protocol's retraining
retrain() {
  local dir=$1 g=$2 like=$3
  current "$dir/result.json" retrain && return 0
  [ -f "$dir/result.json" ] && log "retraining again (older protocol): $dir"
  "${GMNAS[@]}" train --like "$like" --arch "$g" --device "$device" --out "$dir" --overwrite --quiet >"$dir.log" 2>&1 ||
    { cat "$dir.log" >&2; die "retraining $g failed (log: $dir.log)"; }
}

# a search whose own final.retrain is of another protocol (a run kept from an earlier build): its pick
# retrained like the search would now, into OUT/picks/METHOD-sSEED
mkdir -p "$out/picks"
for seed in "${seed_list[@]}"; do
  for method in "${METHODS[@]}"; do
    run=$out/runs/$method-s$seed
    current "$run/result.json" final.retrain && continue
    g=$(RUN=$run node --input-type=module -e 'const { readFileSync } = await import("node:fs"); console.log(JSON.parse(readFileSync(`${process.env.RUN}/result.json`, "utf8")).final.genotype)')
    log "$method seed $seed: pick retrained with protocol $protocol_version: $g"
    retrain "$out/picks/$method-s$seed" "$g" "$run"
  done
done

# the parameter-count pick: NB201's largest cell (most parameters at the search's C and N)
largest=$(ROOT=$ROOT RUN=$protocol_run node --input-type=module - <<'JS'
const { readFileSync } = await import('node:fs');
const { allGenotypes, formatGenotype } = await import(`${process.env.ROOT}/dist/src/spaces/nb201/genotype.js`);
const { networkParamCount } = await import(`${process.env.ROOT}/dist/src/spaces/nb201/params.js`);
const c = JSON.parse(readFileSync(`${process.env.RUN}/result.json`, 'utf8'));
const size = { C: c.config.channels, N: c.config.cells, inputChannels: c.dataset.imageShape[0], numClasses: c.dataset.classes };
let best = null, bestCount = -1;
for (const g of allGenotypes()) { const n = networkParamCount(g, size); if (n > bestCount) { best = g; bestCount = n; } }
console.log(formatGenotype(best));
JS
)
log "parameter-count pick: $largest"
mkdir -p "$out/params"
for seed in "${seed_list[@]}"; do retrain "$out/params/s$seed" "$largest" "$out/runs/gm-s$seed"; done

# the reference sample: ref_size cells drawn uniformly (fixed seed), retrained like the first seed's GM run
if [ ! -f "$out/reference.txt" ]; then
  ROOT=$ROOT N=$ref_size OUTFILE=$out/reference.txt node --input-type=module - <<'JS'
const { allGenotypes, formatGenotype } = await import(`${process.env.ROOT}/dist/src/spaces/nb201/genotype.js`);
const { Rng, hashSeed } = await import(`${process.env.ROOT}/dist/src/data/rng.js`);
const { writeFileAtomic } = await import(`${process.env.ROOT}/dist/src/io/fs.js`);
const all = allGenotypes();
const n = Math.min(all.length, Number(process.env.N));
const order = new Rng(hashSeed(0, 0x9e7f)).permutation(all.length);
writeFileAtomic(process.env.OUTFILE, `${Array.from(order.subarray(0, n), (i) => formatGenotype(all[i])).join('\n')}\n`);
JS
fi
mapfile -t reference <"$out/reference.txt"
[ "${#reference[@]}" -eq "$ref_size" ] || die "$out/reference.txt holds ${#reference[@]} cells, not --ref-size $ref_size; remove it or pass --ref-size ${#reference[@]}"
mkdir -p "$out/reference"
i=0
t0=$(now)
for g in "${reference[@]}"; do
  i=$((i + 1))
  key=$(printf '%s' "$g" | cksum | cut -d' ' -f1)
  [ -f "$out/reference/$key/result.json" ] || log "reference $i/${#reference[@]}: $g"
  retrain "$out/reference/$key" "$g" "$protocol_run"
done

# every leaf's genotype of the split methods, retrained with its own search's protocol and seed, so the
# leaf selectors (validation of the derived path, supernet validation, best of the leaves) compare on
# the same figure as the picks. The pick itself is among them (a second retraining, same protocol).
read -r -a LEAF_METHODS <<<"$leaf_methods"
for m in "${LEAF_METHODS[@]}"; do [[ " gm fewshot random " == *" $m "* ]] || die "--leaf-methods: '$m' is not one of gm fewshot random"; done
for seed in "${seed_list[@]}"; do
  for method in "${LEAF_METHODS[@]}"; do
    run=$out/runs/$method-s$seed
    mkdir -p "$out/leaves/$method-s$seed"
    while read -r node g; do
      [ -f "$out/leaves/$method-s$seed/n$node/result.json" ] || log "$method seed $seed: leaf $node retraining: $g"
      retrain "$out/leaves/$method-s$seed/n$node" "$g" "$run"
    done < <(RUN=$run node --input-type=module -e '
      const { readFileSync } = await import("node:fs");
      const r = JSON.parse(readFileSync(`${process.env.RUN}/result.json`, "utf8"));
      for (const l of r.leaves) if (l.genotype) console.log(`${l.node} ${l.genotype}`);')
  done
done

# ---- report ------------------------------------------------------------------------------------------
OUT=$out SEEDS="$seeds" LARGEST=$largest ROOT=$ROOT node --input-type=module - <<'JS'
const { readFileSync, readdirSync, existsSync } = await import('node:fs');
const { join } = await import('node:path');
const { writeFileAtomic } = await import(`${process.env.ROOT}/dist/src/io/fs.js`);
const { isCurrentRetraining } = await import(`${process.env.ROOT}/experiments/protocol-current.mjs`);
const env = process.env, OUT = env.OUT;
const seeds = env.SEEDS.trim().split(/\s+/).map(Number);
const json = (f) => JSON.parse(readFileSync(join(OUT, f), 'utf8'));
const reference = readdirSync(join(OUT, 'reference')).filter((d) => existsSync(join(OUT, 'reference', d, 'result.json')))
  .map((d) => json(`reference/${d}/result.json`)).map((r) => ({ genotype: r.genotype, testAccuracy: r.retrain.testAccuracy, parameters: r.retrain.parameters }));
const refAcc = reference.map((r) => r.testAccuracy).sort((a, b) => a - b);
/** % of the reference sample below the value (ties count half) */
const percentile = (v) => (100 * refAcc.reduce((s, a) => s + (a < v ? 1 : a === v ? 0.5 : 0), 0)) / refAcc.length;
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
const quantile = (q) => { const p = q * (refAcc.length - 1), lo = Math.floor(p), hi = Math.ceil(p); return refAcc[lo] + (refAcc[hi] - refAcc[lo]) * (p - lo); };
const names = { gm: 'GM + DARTS', oneshot: 'one-shot DARTS', fewshot: 'few-shot (5 leaves) + DARTS', random: 'random split + DARTS', params: 'parameter-count pick (largest cell)' };
const methods = [];
let device = '';
for (const m of ['gm', 'oneshot', 'fewshot', 'random']) {
  const picks = seeds.map((s) => {
    const r = json(`runs/${m}-s${s}/result.json`);
    device = r.device;
    // the pick retrained again under this build's protocol (OUT/picks) where the search's own is older
    if (!isCurrentRetraining(r.final.retrain) && existsSync(join(OUT, `picks/${m}-s${s}/result.json`))) r.final.retrain = json(`picks/${m}-s${s}/result.json`).retrain;
    if (!r.final.retrain) throw new Error(`runs/${m}-s${s}: no final.retrain (searched with --no-retrain?)`);
    const gap = r.leaves.filter((l) => l.supernetVal).map((l) => l.supernetVal.accuracy - l.val.accuracy);
    const gapUntuned = r.leaves.filter((l) => l.supernetVal && l.valUntuned).map((l) => l.supernetVal.accuracy - l.valUntuned.accuracy);
    return {
      seed: s, genotype: r.final.genotype, testAccuracy: r.final.retrain.testAccuracy, parameters: r.final.retrain.parameters,
      percentile: percentile(r.final.retrain.testAccuracy),
      leaves: r.leaves.map((l) => ({ node: l.node, genotype: l.genotype, val: l.val.accuracy, valUntuned: l.valUntuned?.accuracy ?? null, supernetVal: l.supernetVal?.accuracy ?? null })),
      meanGap: gap.length ? mean(gap) : null,
      meanGapUntuned: gapUntuned.length ? mean(gapUntuned) : null,
      seconds: Number(readFileSync(join(OUT, 'times', `${m}-s${s}`), 'utf8')),
      timings: r.timings,
    };
  });
  methods.push({ method: m, name: names[m], picks });
}
// leaf selectors: every leaf's genotype retrained (OUT/leaves), the pick each rule would have made
const selectors = [];
for (const m of ['gm', 'fewshot', 'random']) {
  const rows = seeds.map((s) => {
    const r = json(`runs/${m}-s${s}/result.json`);
    const leaves = r.leaves.filter((l) => l.genotype && existsSync(join(OUT, `leaves/${m}-s${s}/n${l.node}/result.json`)))
      .map((l) => ({ node: l.node, genotype: l.genotype, val: l.val?.accuracy ?? null, supernetVal: l.supernetVal?.accuracy ?? null,
        testAccuracy: json(`leaves/${m}-s${s}/n${l.node}/result.json`).retrain.testAccuracy }));
    const by = (key) => leaves.filter((l) => l[key] !== null).reduce((b, l) => (b === null || l[key] > b[key] ? l : b), null);
    const pick = (l) => (l ? { node: l.node, testAccuracy: l.testAccuracy, percentile: percentile(l.testAccuracy) } : null);
    return { seed: s, leaves, byVal: pick(by('val')), bySupernetVal: pick(by('supernetVal')), best: pick(by('testAccuracy')),
      meanLeaf: leaves.length ? mean(leaves.map((l) => l.testAccuracy)) : null };
  });
  selectors.push({ method: m, name: names[m], seeds: rows });
}
methods.push({
  method: 'params', name: names.params,
  picks: seeds.map((s) => { const r = json(`params/s${s}/result.json`); return { seed: s, genotype: r.genotype, testAccuracy: r.retrain.testAccuracy, parameters: r.retrain.parameters, percentile: percentile(r.retrain.testAccuracy) }; }),
});
for (const m of methods) {
  const acc = m.picks.map((p) => p.testAccuracy);
  m.meanAccuracy = mean(acc); m.sdAccuracy = sd(acc); m.meanPercentile = mean(m.picks.map((p) => p.percentile));
}
const first = json(`runs/gm-s${seeds[0]}/result.json`);
const summary = {
  date: new Date().toISOString(), device, seeds, dataset: first.dataset, config: first.config,
  protocol: json(`params/s${seeds[0]}/result.json`).retrain.protocol,
  reference: { size: reference.length, mean: mean(refAcc), sd: sd(refAcc), min: refAcc[0], median: quantile(0.5), p90: quantile(0.9), max: refAcc[refAcc.length - 1], cells: reference },
  methods, selectors,
};
writeFileAtomic(join(OUT, 'quality.json'), `${JSON.stringify(summary, null, 1)}\n`);
const f = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
const c = first.config;
const lines = [
  '# Does the search find good cells?', '',
  `${summary.date.slice(0, 10)}, ${device}. ${first.dataset.name}: ${first.dataset.trainImages} training images ${first.dataset.imageShape.join('×')}; ` +
  `preset ${c.preset}: C=${c.channels} N=${c.cells}, batch ${c.batchSize}, ${c.stepsPerEpoch ?? 'one pass of'} steps per epoch, ${c.totalEpochs} epochs; seeds ${seeds.join(', ')}.`, '',
  `Retraining protocol (every number below): ${summary.protocol.description}.`, '',
  `Reference: ${reference.length} NB201 cells drawn uniformly, retrained the same way: mean ${f(summary.reference.mean)} ± ${f(summary.reference.sd)} %, ` +
  `median ${f(summary.reference.median)}, 90th percentile ${f(summary.reference.p90)}, best ${f(summary.reference.max)}.`, '',
  '| method | test accuracy (mean ± sd) | percentile of the reference (mean) | picks (seed: accuracy, percentile) | mean supernetVal − val of the leaves (untuned path) |',
  '|---|---|---|---|---|',
];
for (const m of methods) {
  lines.push(`| ${m.name} | ${f(m.meanAccuracy)} ± ${f(m.sdAccuracy)} | ${f(m.meanPercentile, 1)} | ` +
    `${m.picks.map((p) => `${p.seed}: ${f(p.testAccuracy)} (${f(p.percentile, 0)})`).join('; ')} | ` +
    `${m.picks[0].meanGap === undefined ? '—' : m.picks.map((p) => `${f(p.meanGap, 1)} (${f(p.meanGapUntuned, 1)})`).join('; ')} |`);
}
lines.push('', 'Leaf selectors — every leaf genotype retrained with its search\'s protocol; test accuracy (percentile) of the leaf each rule picks, mean over seeds:', '',
  '| method | by derived-path val (the default) | by supernet val | best leaf (oracle, the paper\'s "best of N") | mean of the leaves |', '|---|---|---|---|---|');
const avgOf = (rows, k) => { const xs = rows.map((r) => r[k]).filter((x) => x); return xs.length ? `${f(mean(xs.map((x) => x.testAccuracy)))} (${f(mean(xs.map((x) => x.percentile)), 0)})` : 'n/a'; };
for (const sel of selectors) {
  const ml = sel.seeds.map((r) => r.meanLeaf).filter((x) => x !== null);
  lines.push(`| ${sel.name} | ${avgOf(sel.seeds, 'byVal')} | ${avgOf(sel.seeds, 'bySupernetVal')} | ${avgOf(sel.seeds, 'best')} | ${ml.length ? `${f(mean(ml))} (${f(percentile(mean(ml)), 0)})` : 'n/a'} |`);
}
lines.push('', 'Genotypes:', '');
for (const m of methods) for (const p of m.picks) lines.push(`- ${m.name}, seed ${p.seed}: \`${p.genotype}\` (${p.parameters} parameters)`);
writeFileAtomic(join(OUT, 'quality.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
console.log(`\nwrote ${join(OUT, 'quality.md')} and ${join(OUT, 'quality.json')}`);
JS
