#!/usr/bin/env bash
# Ranking correlation of one-shot vs few-shot vs GM supernets (GM-NAS Table 7 protocol, issue [rank]):
# three searches with the same base method (RSPS by default), the same seed and the same total training
# budget in supernet-epochs, then `rank` of the same architectures with each, `correlate` against the
# true scores, and OUT/ranking.md + OUT/ranking.json. See README "Ranking correlation".
#
#   experiments/ranking.sh [--quick | --tiny] [--archs FILE] [--truth FILE --column COL] [flags]
#   experiments/ranking.sh --quick --curve 10,20,40,80 [flags]   τ against budget, one run per budget
#
# Budget: B supernet-epochs per method (every supernet of the tree counts for the epochs it trains;
# all methods use the same --steps-per-epoch and batch size):
#   one-shot  1 supernet                   --epochs B
#   few-shot  5 leaves from epoch 0        --split-epochs 0 --epochs B/5          (5 × B/5 = B)
#   GM        root, 2 children, 4 leaves   --split-epochs s1,s2 --epochs E  with
#             s1 + 2·(s2 − s1) + 4·(E − s2) = B, the integers closest to the paper's proportions
#             (RSPS: splits at 20 and 40 of 90 epochs, B = 260)
# GM's gradient-matching scores are extra forward/backward passes, not counted in B (ranking.md
# shows each method's wall time).
# --budget-rule paper instead gives few-shot and GM the reference's proportions relative to one-shot's B
# epochs, so they spend more than B (ranking.md shows each method's supernet-epochs):
#   GM        --split-epochs round(20B/90),round(40B/90) --epochs B   (RSPS, spec §3.1: splits at 20 and
#             40 of 90 epochs; each leaf trains about 50/90·B epochs after the last split; 230/90·B in all)
#   few-shot  --split-epochs 0 --epochs B: each of the 5 leaves the one-shot's whole schedule from scratch
#             (spec §4.2: GM's own few-shot runs split at epoch 0 and train every sub-supernet the full
#             epochs; the paper's NB201 few-shot schedule is not in the reference code); 5B in all
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GMNAS=(node "$ROOT/run.js")

usage() {
  cat <<'EOF'
usage: experiments/ranking.sh [--quick | --tiny] [flags]

  --quick               minutes: preset quick, Fashion-MNIST, C 8, N 1, 12000 training images, budget 20
  --tiny                seconds (plumbing check): preset tiny, synthetic data, budget 10, 6 architectures
  (neither: preset paper, budget 260 — the paper's GM + RSPS schedule)
  --archs FILE          genotypes to rank (one per line, or a CSV with arch_str); default: --num-archs
                        genotypes sampled uniformly from NB201 with --seed (written to OUT/archs.txt)
  --truth FILE          true scores (CSV with arch_str, e.g. the NB201 table); default: each arch trained
                        stand-alone with `node run.js train` (cached in OUT/truth/, column test_accuracy)
  --column COL          truth column (required with --truth)
  --lower-is-better     the truth column is an error or a loss
  --dataset NAME        dataset of the searches (default: fashion-mnist; --tiny: synthetic)
  --data-dir DIR        its files
  --channels C --cells N --train-limit K   network and data sizes (default: the preset's)
  --seed S              seed of every search, of the sampled archs and of the truth training (default 0)
  --base NAME           base method of all three searches (default rsps, as Table 7)
  --budget B            supernet-epochs per method (multiple of 5; default: 260, --quick 20, --tiny 10)
  --budget-rule R       equal (default): every method trains B supernet-epochs in all; paper: one-shot
                        B epochs, GM the reference's proportions (splits at 20/90·B and 40/90·B, leaves
                        to B: 230/90·B supernet-epochs), few-shot 5 leaves of B epochs each (5·B)
  --curve B1,B2,...     the budget curve: the three methods at every budget (ascending multiples of 5),
                        on the same architectures and truth, plus the parameter-count floor; writes
                        OUT/ranking.md, OUT/ranking.html, OUT/ranking-curve.json and .svg (each budget's
                        own report in OUT/budget-B/; experiments/ranking-curve.mjs)
  --steps-per-epoch S   weight steps per epoch, the same for every method (default: the preset's)
  --num-archs N         sampled architectures when --archs is not given (default 100, --quick 30, --tiny 6)
  --top LIST            truth fractions for the top-k correlations (default 0.1,0.5,1)
  --val-batches K       validation batches per architecture in `rank` (default: the search's)
  --bn-recalibrate K    BN recalibration batches in `rank` (default 0)
  --truth-epochs E      stand-alone epochs of the default truth (default 200, --quick 1, --tiny 1)
  --device D            auto | webgpu | cpu (default auto)
  --workers N           leaves trained in parallel by each search (default 1, so wall times compare)
  --gm-inherit          GM's leaves inherit their parent's weights at the last split (the search's
                        --no-restart) instead of restarting from fresh weights as the reference does;
                        measured to help GM at budget 80 on 5 of 5 seeds (docs/quality.md)
  --out DIR             output folder (default runs/ranking-<mode>-s<seed>); a rerun reuses finished steps
EOF
}

die() { echo "ranking.sh: $*" >&2; exit 2; }
need() { [ "$#" -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }

mode=paper dataset='' data_dir='' channels='' cells='' train_limit='' seed=0 archs='' truth='' column=''
lower=0 base=rsps budget='' steps='' num_archs='' top='0.1,0.5,1' val_batches='' bn_recal=0 truth_epochs=''
device=auto workers=1 out='' curve='' gm_inherit=0 budget_rule=equal
while [ "$#" -gt 0 ]; do
  case "$1" in
    --quick) mode=quick ;;
    --tiny) mode=tiny ;;
    --dataset) need "$@"; dataset=$2; shift ;;
    --data-dir) need "$@"; data_dir=$2; shift ;;
    --channels) need "$@"; channels=$2; shift ;;
    --cells) need "$@"; cells=$2; shift ;;
    --train-limit) need "$@"; train_limit=$2; shift ;;
    --seed) need "$@"; seed=$2; shift ;;
    --archs) need "$@"; archs=$2; shift ;;
    --truth) need "$@"; truth=$2; shift ;;
    --column) need "$@"; column=$2; shift ;;
    --lower-is-better) lower=1 ;;
    --base) need "$@"; base=$2; shift ;;
    --budget) need "$@"; budget=$2; shift ;;
    --curve) need "$@"; curve=$2; shift ;;
    --budget-rule) need "$@"; budget_rule=$2; shift ;;
    --steps-per-epoch) need "$@"; steps=$2; shift ;;
    --num-archs) need "$@"; num_archs=$2; shift ;;
    --top) need "$@"; top=$2; shift ;;
    --val-batches) need "$@"; val_batches=$2; shift ;;
    --bn-recalibrate) need "$@"; bn_recal=$2; shift ;;
    --truth-epochs) need "$@"; truth_epochs=$2; shift ;;
    --device) need "$@"; device=$2; shift ;;
    --workers) need "$@"; workers=$2; shift ;;
    --gm-inherit) gm_inherit=1 ;;
    --out) need "$@"; out=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done

# ---- what each mode means -----------------------------------------------------------------------
case "$mode" in
  tiny)
    preset=tiny; : "${dataset:=synthetic}"; : "${budget:=10}"; : "${num_archs:=6}"; : "${truth_epochs:=1}"
    extra=(--rsps-candidates 2)
    # the stand-alone truth at the same scale: a few seconds per architecture
    truth_flags=(--preset quick --channels "${channels:-4}" --cells "${cells:-1}" --train-limit "${train_limit:-200}" --test-limit 100)
    ;;
  quick)
    preset=quick; : "${dataset:=fashion-mnist}"; : "${channels:=8}"; : "${cells:=1}"; : "${train_limit:=12000}"
    : "${budget:=20}"; : "${num_archs:=30}"; : "${truth_epochs:=1}"
    # the leaves' own final pick is not what this experiment measures: few candidates keep it cheap
    extra=(--rsps-candidates 4)
    truth_flags=(--preset quick --channels "$channels" --cells "$cells" --train-limit "$train_limit" --test-limit 2000)
    ;;
  paper)
    preset=paper; : "${dataset:=fashion-mnist}"; : "${budget:=260}"; : "${num_archs:=100}"; : "${truth_epochs:=200}"
    extra=()
    truth_flags=(--preset nb201)
    [ -n "$channels" ] && truth_flags+=(--channels "$channels")
    [ -n "$cells" ] && truth_flags+=(--cells "$cells")
    [ -n "$train_limit" ] && truth_flags+=(--train-limit "$train_limit")
    ;;
esac
case "$budget_rule" in equal | paper) ;; *) die "--budget-rule $budget_rule: expected equal or paper" ;; esac
[ -z "$truth" ] || [ -n "$column" ] || die "--truth needs --column COL (the truth file's score column)"
[ -n "$truth" ] || [ -z "$column" ] || die "--column needs --truth FILE"
curve_budgets=()
if [ -n "$curve" ]; then
  IFS=, read -r -a curve_budgets <<<"$curve"
  [ "${#curve_budgets[@]}" -ge 2 ] || die "--curve $curve: expected at least two budgets, comma-separated"
  prev=0
  for b in "${curve_budgets[@]}"; do
    [[ "$b" =~ ^[0-9]+$ ]] && [ "$b" -ge 10 ] && [ $((b % 5)) -eq 0 ] && [ "$b" -gt "$prev" ] ||
      die "--curve $curve: expected ascending multiples of 5, each at least 10 (got '$b')"
    prev=$b
  done
  budget=${curve_budgets[0]}
fi
[[ "$budget" =~ ^[0-9]+$ ]] && [ "$budget" -ge 10 ] && [ $((budget % 5)) -eq 0 ] ||
  die "--budget $budget: expected a multiple of 5, at least 10 (few-shot trains 5 leaves for B/5 epochs each; GM needs whole epochs s1 < s2 < E)"
for v in seed workers bn_recal; do [[ "${!v}" =~ ^[0-9]+$ ]] || die "--${v//_/-} ${!v}: expected a non-negative integer"; done
[[ "$num_archs" =~ ^[0-9]+$ ]] && [ "$num_archs" -ge 2 ] || die "--num-archs $num_archs: expected an integer >= 2"
[ -z "$archs" ] || [ -f "$archs" ] || die "--archs $archs: no such file"
[ -z "$truth" ] || [ -f "$truth" ] || die "--truth $truth: no such file"
: "${out:=runs/ranking-$mode-s$seed}"
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$ROOT/dist/src/cli/main.js" ] || die "dist/ is missing: run 'npm install' (or 'node scripts/build.mjs') in $ROOT"

# GM's schedule for budget B: 1 <= s1 < s2 < E, s1 + 2(s2-s1) + 4(E-s2) = B, nearest to 20:40:200 of 260
gm_schedule() {
  local B=$1 best='' bestd=0 s1 s2 rest d
  for ((s1 = 1; s1 < B; s1++)); do
    for ((s2 = s1 + 1; s2 < B; s2++)); do
      rest=$((B - s1 - 2 * (s2 - s1)))
      ((rest >= 4 && rest % 4 == 0)) || continue
      d=$(((260 * s1 - 20 * B) ** 2 + (260 * (s2 - s1) - 20 * B) ** 2))
      if [ -z "$best" ] || ((d < bestd)); then best="$s1 $s2 $((s2 + rest / 4))"; bestd=$d; fi
    done
  done
  [ -n "$best" ] || die "--budget $B: no GM schedule s1 + 2(s2-s1) + 4(E-s2) = $B with whole epochs; try another multiple of 5"
  echo "$best"
}
# the paper rule: the reference's RSPS split epochs 20 and 40 of 90, scaled to B (rounded), leaves to B
gm_paper_schedule() {
  local B=$1 s1 s2
  s1=$(((20 * B + 45) / 90)) s2=$(((40 * B + 45) / 90))
  ((1 <= s1 && s1 < s2 && s2 < B)) || die "--budget $B: the paper rule's GM splits $s1,$s2 of $B epochs are not 1 <= s1 < s2 < B"
  echo "$s1 $s2 $B"
}
if [ "$budget_rule" = paper ]; then
  read -r gm_s1 gm_s2 gm_epochs < <(gm_paper_schedule "$budget")
  fs_epochs=$budget
else
  read -r gm_s1 gm_s2 gm_epochs < <(gm_schedule "$budget")
  fs_epochs=$((budget / 5))
fi

search_flags=(--space nb201 --base "$base" --preset "$preset" --dataset "$dataset" --seed "$seed" --device "$device" --workers "$workers" --quiet)
[ -n "$data_dir" ] && search_flags+=(--data-dir "$data_dir")
[ -n "$channels" ] && search_flags+=(--channels "$channels")
[ -n "$cells" ] && search_flags+=(--cells "$cells")
[ -n "$train_limit" ] && search_flags+=(--train-limit "$train_limit")
[ -n "$steps" ] && search_flags+=(--steps-per-epoch "$steps")
# 28×28 images must not be shrunk: the two stride-2 reductions need sides divisible by 4
case "$dataset" in fashion-mnist | mnist) search_flags+=(--downsample 1) ;; esac
search_flags+=("${extra[@]}")

log() { echo "[ranking] $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

log "mode $mode: $base on $dataset, seed $seed, budget $budget supernet-epochs (rule $budget_rule); output $out"
log "  one-shot --epochs $budget | few-shot --split-epochs 0 --epochs $fs_epochs | GM --split-epochs $gm_s1,$gm_s2 --epochs $gm_epochs"

# ---- the architectures -----------------------------------------------------------------------------
if [ -z "$archs" ]; then
  archs=$out/archs.txt
  if [ ! -f "$archs" ]; then
    ROOT=$ROOT N=$num_archs SEED=$seed OUTFILE=$archs node --input-type=module - <<'EOF'
const { allGenotypes, formatGenotype } = await import(`${process.env.ROOT}/dist/src/spaces/nb201/genotype.js`);
const { Rng, hashSeed } = await import(`${process.env.ROOT}/dist/src/data/rng.js`);
const { writeFileAtomic } = await import(`${process.env.ROOT}/dist/src/io/fs.js`);
const all = allGenotypes();
const n = Math.min(all.length, Number(process.env.N));
const order = new Rng(hashSeed(Number(process.env.SEED), 0x7a9c)).permutation(all.length);
const lines = Array.from(order.subarray(0, n), (i) => formatGenotype(all[i]));
writeFileAtomic(process.env.OUTFILE, `# ${n} NB201 genotypes sampled uniformly with seed ${process.env.SEED}\n${lines.join('\n')}\n`);
EOF
  fi
  log "architectures: $archs ($num_archs sampled)"
else
  archs=$(cd "$(dirname "$archs")" && pwd)/$(basename "$archs")
fi

# ---- the truth ---------------------------------------------------------------------------------------
truth_seconds=0
if [ -z "$truth" ]; then
  column=test_accuracy
  truth=$out/truth.csv
  t0=$(now)
  mapfile -t genotypes < <(node "$ROOT/experiments/genotype-list.mjs" "$archs")
  log "truth: ${#genotypes[@]} architectures trained stand-alone (${truth_flags[*]} --epochs $truth_epochs), cached in $out/truth/"
  i=0
  for g in "${genotypes[@]}"; do
    i=$((i + 1))
    key=$(printf '%s' "$g" | cksum | cut -d' ' -f1)
    dir=$out/truth/$key
    [ -f "$dir/result.json" ] && continue
    tf=(train --arch "$g" --dataset "$dataset" --epochs "$truth_epochs" --seed "$seed" --device "$device" --out "$dir" "${truth_flags[@]}")
    [ -n "$data_dir" ] && tf+=(--data-dir "$data_dir")
    log "  truth $i/${#genotypes[@]}: $g"
    "${GMNAS[@]}" "${tf[@]}" >/dev/null 2>"$out/truth-$key.log" || { cat "$out/truth-$key.log" >&2; die "stand-alone training of $g failed"; }
  done
  ROOT=$ROOT DIR=$out/truth OUTFILE=$truth node --input-type=module - <<'EOF'
const { readdirSync, readFileSync, existsSync } = await import('node:fs');
const { join } = await import('node:path');
const { writeFileAtomic } = await import(`${process.env.ROOT}/dist/src/io/fs.js`);
const rows = ['arch_str,test_accuracy,test_loss,epochs'];
for (const d of readdirSync(process.env.DIR).sort()) {
  const f = join(process.env.DIR, d, 'result.json');
  if (!existsSync(f)) continue;
  const r = JSON.parse(readFileSync(f, 'utf8'));
  rows.push(`${r.genotype},${r.test.accuracy},${r.test.loss},${r.epochs}`);
}
writeFileAtomic(process.env.OUTFILE, `${rows.join('\n')}\n`);
EOF
  truth_seconds=$(elapsed "$t0")
else
  truth=$(cd "$(dirname "$truth")" && pwd)/$(basename "$truth")
fi
log "truth: $truth (column $column)"
corr_flags=(--truth "$truth" --column "$column" --top "$top" --json)
[ "$lower" = 1 ] && corr_flags+=(--lower-is-better)

# ---- the budget curve: this script once per budget on the same archs and truth ------------------
if [ "${#curve_budgets[@]}" -gt 0 ]; then
  for b in "${curve_budgets[@]}"; do   # every budget has a GM schedule
    if [ "$budget_rule" = paper ]; then gm_paper_schedule "$b" >/dev/null; else gm_schedule "$b" >/dev/null; fi
  done
  sub=(--budget-rule "$budget_rule" --dataset "$dataset" --seed "$seed" --base "$base" --top "$top" --bn-recalibrate "$bn_recal" --device "$device"
    --workers "$workers" --archs "$archs" --truth "$truth" --column "$column")
  case "$mode" in quick) sub+=(--quick) ;; tiny) sub+=(--tiny) ;; esac
  [ -n "$data_dir" ] && sub+=(--data-dir "$data_dir")
  [ -n "$channels" ] && sub+=(--channels "$channels")
  [ -n "$cells" ] && sub+=(--cells "$cells")
  [ -n "$train_limit" ] && sub+=(--train-limit "$train_limit")
  [ -n "$steps" ] && sub+=(--steps-per-epoch "$steps")
  [ -n "$val_batches" ] && sub+=(--val-batches "$val_batches")
  [ "$lower" = 1 ] && sub+=(--lower-is-better)
  [ "$gm_inherit" = 1 ] && sub+=(--gm-inherit)
  for b in "${curve_budgets[@]}"; do
    log "curve: budget $b"
    bash "${BASH_SOURCE[0]}" "${sub[@]}" --budget "$b" --out "$out/budget-$b" >"$out/budget-$b.log" 2>&1 ||
      { tail -n 20 "$out/budget-$b.log" >&2; die "budget $b failed (log: $out/budget-$b.log)"; }
  done
  # the free floor: the same architectures ranked by their parameter count
  node "$ROOT/experiments/param-scores.mjs" "$archs" "$out/budget-${curve_budgets[0]}/runs/oneshot" "$out/params.csv" ||
    die "parameter counts failed"
  "${GMNAS[@]}" correlate --pred "$out/params.csv" --pred-column parameters "${corr_flags[@]}" >"$out/correlate-params.json" ||
    die "parameter-count correlate failed"
  node "$ROOT/experiments/ranking-curve.mjs" "$out" "$curve" || die "the curve report failed"
  exit 0
fi

# ---- searches, rank, correlate -------------------------------------------------------------------
rank_flags=(--device "$device" --quiet)
[ -n "$val_batches" ] && rank_flags+=(--val-batches "$val_batches")
[ "$bn_recal" -gt 0 ] && rank_flags+=(--bn-recalibrate "$bn_recal")

for method in oneshot fewshot gm; do
  case "$method" in
    oneshot) sched=(--method oneshot --epochs "$budget") ;;
    fewshot) sched=(--method fewshot --split-epochs 0 --epochs "$fs_epochs") ;;
    gm) sched=(--method gm --split-epochs "$gm_s1,$gm_s2" --epochs "$gm_epochs")
      [ "$gm_inherit" = 1 ] && sched+=(--no-restart) ;;
  esac
  run=$out/runs/$method
  # a finished GM search is reused only when it was made with the same --gm-inherit
  if [ "$method" = gm ] && [ -f "$run/result.json" ]; then
    want=$([ "$gm_inherit" = 1 ] && echo false || echo true)
    have=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).config.restart)' "$run/result.json")
    [ "$have" = "$want" ] || die "$run was searched $([ "$want" = true ] && echo with || echo without) --gm-inherit; use another --out"
  fi
  # nor is any finished search whose schedule is not this budget rule's (another --budget or --budget-rule)
  if [ -f "$run/result.json" ]; then
    case "$method" in oneshot) want='- '$budget ;; fewshot) want="0 $fs_epochs" ;; gm) want="$gm_s1,$gm_s2 $gm_epochs" ;; esac
    have=$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).config; console.log(`${c.splitEpochs.join(",") || "-"} ${c.totalEpochs}`)' "$run/result.json")
    [ "$have" = "$want" ] || die "$run was searched with another schedule (splits,epochs '$have', this run needs '$want'); use another --out"
  fi
  if [ -f "$run/result.json" ] && [ -f "$out/times/$method.search" ]; then
    log "$method: search already done ($run)"
  else
    mkdir -p "$out/times"
    t0=$(now)
    if [ -f "$run/state.json" ]; then
      log "$method: resuming the search in $run"
      "${GMNAS[@]}" --resume "$run" --device "$device" --workers "$workers" --quiet >"$out/search-$method.log" 2>&1 ||
        { tail -n 20 "$out/search-$method.log" >&2; die "$method search failed (log: $out/search-$method.log)"; }
    else
      log "$method: search ${sched[*]}"
      "${GMNAS[@]}" "${search_flags[@]}" "${sched[@]}" --out "$run" >"$out/search-$method.log" 2>&1 ||
        { tail -n 20 "$out/search-$method.log" >&2; die "$method search failed (log: $out/search-$method.log)"; }
    fi
    elapsed "$t0" >"$out/times/$method.search"
  fi
  # the ranking depends on the run, the architectures and the rank flags only: reuse it while none changed
  rank_key=$(printf '%s\n' "${rank_flags[*]}" "$(cksum <"$archs")" "$(cksum <"$run/result.json")" | cksum | cut -d' ' -f1)
  if [ -f "$out/rank-$method.csv" ] && [ -f "$out/times/$method.rank" ] && [ "$(cat "$out/rank-$method.key" 2>/dev/null)" = "$rank_key" ]; then
    log "$method: rank already done"
  else
    log "$method: rank"
    t0=$(now)
    "${GMNAS[@]}" rank --from "$run" --archs "$archs" --out "$out/rank-$method.csv" "${rank_flags[@]}" 2>"$out/rank-$method.log" ||
      { cat "$out/rank-$method.log" >&2; die "$method rank failed"; }
    elapsed "$t0" >"$out/times/$method.rank"
    echo "$rank_key" >"$out/rank-$method.key"
  fi
  "${GMNAS[@]}" correlate --pred "$out/rank-$method.csv" "${corr_flags[@]}" >"$out/correlate-$method.json" ||
    die "$method correlate failed"
done

# ---- report ----------------------------------------------------------------------------------------
OUT=$out MODE=$mode BUDGET=$budget RULE=$budget_rule ARCHS=$archs TRUTH=$truth COLUMN=$column TOP=$top TRUTH_SECONDS=$truth_seconds \
  BN=$bn_recal ROOT=$ROOT node --input-type=module - <<'EOF'
const { readFileSync } = await import('node:fs');
const { join } = await import('node:path');
const { writeFileAtomic } = await import(`${process.env.ROOT}/dist/src/io/fs.js`);
const env = process.env;
const read = (f) => readFileSync(join(env.OUT, f), 'utf8');
const names = { oneshot: 'one-shot', fewshot: 'few-shot', gm: 'GM' };
const methods = ['oneshot', 'fewshot', 'gm'].map((m) => {
  const r = JSON.parse(read(`runs/${m}/result.json`));
  const c = r.config;
  // supernet-epochs: every node of the tree for the epochs it trained (root from 0, a level-d node from
  // split d, leaves to the total)
  const s = c.splitEpochs, levels = s.length;
  const budget = r.tree.nodes.reduce((sum, n) => sum + (n.depth === levels ? c.totalEpochs : s[n.depth]) - (n.depth === 0 ? 0 : s[n.depth - 1]), 0);
  const corr = JSON.parse(read(`correlate-${m}.json`).trim().split('\n').pop());
  const search = Number(read(`times/${m}.search`)), rank = Number(read(`times/${m}.rank`));
  const rankRows = read(`rank-${m}.csv`).trim().split('\n').length - 1;
  return {
    method: m, name: names[m], supernets: r.tree.nodes.filter((n) => n.children.length === 0).length, budgetEpochs: budget,
    splitEpochs: s, totalEpochs: c.totalEpochs, restart: c.restart, stepsPerEpoch: c.stepsPerEpoch, batchSize: c.batchSize,
    ranked: rankRows, shared: corr.shared, correlation: corr.rows,
    wallSeconds: { search: search, rank: rank, total: search + rank },
    device: r.device, run: join(env.OUT, 'runs', m),
  };
});
const first = JSON.parse(read('runs/oneshot/result.json'));
const c = first.config;
const summary = {
  mode: env.MODE, base: c.base, dataset: first.dataset, channels: c.channels, cells: c.cells, seed: c.seed,
  budgetEpochs: Number(env.BUDGET), budgetRule: env.RULE, stepsPerEpoch: c.stepsPerEpoch, batchSize: c.batchSize,
  archs: env.ARCHS, truth: env.TRUTH, column: env.COLUMN, top: env.TOP.split(',').map(Number), bnRecalibrate: Number(env.BN),
  truthSeconds: Number(env.TRUTH_SECONDS), methods,
};
writeFileAtomic(join(env.OUT, 'ranking.json'), `${JSON.stringify(summary, null, 1)}\n`);
const f = (v) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(3));
const pct = (t) => (t === 1 ? 'all' : `top ${+(t * 100).toFixed(2)}%`);
const tops = summary.top.filter((t) => t !== 1);
const head = ['method', '#supernets', 'budget (supernet-epochs)', 'schedule', 'Spearman', 'Kendall',
  ...tops.map((t) => `${pct(t)} ρ / τ`), 'wall time (search + rank)'];
const lines = [
  `# Ranking correlation: one-shot vs few-shot vs GM (${c.base})`, '',
  `${first.dataset.name}, ${first.dataset.trainImages} training images ${first.dataset.imageShape.join('×')}, C=${c.channels} N=${c.cells}, ` +
  `seed ${c.seed}; budget ${summary.budgetEpochs} supernet-epochs of ${c.stepsPerEpoch ?? 'one pass of'} steps ` +
  `(batch ${c.batchSize}), budget rule ${env.RULE}: ` +
  (env.RULE === 'paper'
    ? "one-shot trains B epochs, few-shot and GM the reference's proportions of it, so they spend more (see the budget column); "
    : 'every method trains B supernet-epochs in all; ') + `mode ${env.MODE}.`, '',
  `Architectures: ${env.ARCHS}; truth: ${env.TRUTH} (column ${env.COLUMN}); rank BN: ` +
  `${summary.bnRecalibrate > 0 ? `recalibrated on ${summary.bnRecalibrate} batches` : "as the search scored its leaves"}.`, '',
  `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`,
];
for (const m of methods) {
  const all = m.correlation.find((r) => r.top === 1) ?? m.correlation[m.correlation.length - 1];
  const sched = (m.splitEpochs.length ? `splits ${m.splitEpochs.join(',')}, ${m.totalEpochs} epochs` : `${m.totalEpochs} epochs`) +
    (m.splitEpochs.length && m.splitEpochs[m.splitEpochs.length - 1] > 0 && !m.restart ? ', leaves inherit' : '');
  lines.push(`| ${[m.name, m.supernets, m.budgetEpochs, sched, f(all.spearman), f(all.kendall),
    ...tops.map((t) => { const r = m.correlation.find((x) => x.top === t); return r ? `${f(r.spearman)} / ${f(r.kendall)} (${r.count})` : 'n/a'; }),
    `${m.wallSeconds.total.toFixed(1)} s (${m.wallSeconds.search.toFixed(1)} + ${m.wallSeconds.rank.toFixed(1)})`].join(' | ')} |`);
}
lines.push('', `${methods[0].shared} architectures in both the ranking and the truth. Spearman ρ and Kendall τ-b (tie-aware) ` +
  'between the supernet\'s validation accuracy and the truth; "top p%" keeps the best p% by truth (count in brackets).');
if (summary.truthSeconds > 0) lines.push('', `The truth (stand-alone training) took ${summary.truthSeconds.toFixed(1)} s, not in the table.`);
writeFileAtomic(join(env.OUT, 'ranking.md'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
console.log(`\nwrote ${join(env.OUT, 'ranking.md')} and ${join(env.OUT, 'ranking.json')}`);
EOF
