#!/usr/bin/env bash
# A less noisy truth (issue [quality] item 5): every cell of a list retrained stand-alone under several
# retraining seeds with one search's protocol (`node run.js train --like RUN --arch G --seed S`: the
# retraining seed a search with seed S would use), then experiments/truth-seeds.mjs writes
#   OUT/truth-seeds.csv   arch_str, parameters, test_accuracy_s<S> per seed, test_accuracy (the mean
#                         over the seeds: ranking.sh --truth / correlate --column test_accuracy read it
#                         as it is), sd (per cell, over the seeds), n (seeds present)
#   OUT/truth-s<S>.csv    one seed's truth (arch_str,test_accuracy)
#   OUT/truth-seeds.md / .json   per-cell sd, Kendall τ between the seed truths (what any ranker can
#                         reach against one seed's truth), the parameter-count τ against the mean truth
# A truth retrained earlier with the same protocol joins as one more seed (--truth CSV --truth-seed S)
# instead of being retrained again. Cells are retrained seed by seed (all cells of the first seed, then
# the next), each skipped when its result.json exists, so an interrupted run resumes and a partial one
# already gives complete columns for the first seeds.
#
#   experiments/retrain-seeds.sh --like RUN --archs FILE --seeds "1 2" [--truth CSV --truth-seed 0] --out DIR
#   experiments/retrain-seeds.sh --tiny [--out DIR]    plumbing check in seconds: a tiny search on synthetic
#                                                     data as the protocol, 3 cells, seeds 1 2, CPU backend
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GMNAS=(node "$ROOT/run.js")

usage() {
  cat <<'EOF'
usage: experiments/retrain-seeds.sh --like RUN --archs FILE --seeds "S1 S2 ..." --out DIR [flags]
  --like RUN        a search's output folder: its retraining protocol (train --like)
  --archs FILE      genotypes (one per line, or a CSV with arch_str)
  --seeds LIST      retraining seeds, as a search with that seed would retrain (space-separated)
  --truth CSV       an existing truth retrained with the same protocol, joined as seed --truth-seed
  --truth-seed S    the seed of --truth (required with it; must not be in --seeds)
  --column COL      --truth's score column (default test_accuracy)
  --device D        auto | webgpu | cpu (default auto; --tiny cpu)
  --tiny            plumbing check: tiny search (synthetic data) as --like, 3 cells, seeds "1 2"
  --out DIR         output folder (default runs/retrain-seeds; --tiny runs/retrain-seeds-tiny)
EOF
}
die() { echo "retrain-seeds.sh: $*" >&2; exit 2; }
need() { [ "$#" -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"; }

like='' archs='' seeds='' truth='' truth_seed='' column=test_accuracy device='' tiny=0 out=''
while [ "$#" -gt 0 ]; do
  case "$1" in
    --like) need "$@"; like=$2; shift ;;
    --archs) need "$@"; archs=$2; shift ;;
    --seeds) need "$@"; seeds=$2; shift ;;
    --truth) need "$@"; truth=$2; shift ;;
    --truth-seed) need "$@"; truth_seed=$2; shift ;;
    --column) need "$@"; column=$2; shift ;;
    --device) need "$@"; device=$2; shift ;;
    --tiny) tiny=1 ;;
    --out) need "$@"; out=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
  shift
done
if [ "$tiny" = 1 ]; then
  : "${seeds:=1 2}"; : "${device:=cpu}"; : "${out:=runs/retrain-seeds-tiny}"
else
  : "${device:=auto}"; : "${out:=runs/retrain-seeds}"
  [ -n "$like" ] || die "--like RUN is required (a search's output folder; or --tiny)"
  [ -n "$archs" ] || die "--archs FILE is required (or --tiny)"
  [ -n "$seeds" ] || die "--seeds LIST is required, e.g. --seeds \"1 2\""
fi
read -r -a seed_list <<<"$seeds"
[ "${#seed_list[@]}" -ge 1 ] || die "--seeds '$seeds': expected at least one seed"
for s in "${seed_list[@]}"; do [[ "$s" =~ ^[0-9]+$ ]] || die "--seeds '$seeds': expected non-negative integers"; done
[ "$(printf '%s\n' "${seed_list[@]}" | sort -u | wc -l)" -eq "${#seed_list[@]}" ] || die "--seeds '$seeds': a seed is listed twice"
if [ -n "$truth" ] || [ -n "$truth_seed" ]; then
  [ -n "$truth" ] && [ -f "$truth" ] || die "--truth ${truth:-(missing)}: no such file (--truth-seed needs --truth CSV)"
  [[ "$truth_seed" =~ ^[0-9]+$ ]] || die "--truth-seed '${truth_seed}': --truth needs the seed it was retrained with (a non-negative integer)"
  for s in "${seed_list[@]}"; do [ "$s" != "$truth_seed" ] || die "--truth-seed $truth_seed is also in --seeds '$seeds': that seed would be counted twice"; done
fi
case "$device" in auto | webgpu | cpu) ;; *) die "--device $device: expected auto, webgpu or cpu" ;; esac
[ -z "$like" ] || [ -f "$like/result.json" ] || [ -f "$like/state.json" ] || die "--like $like: no result.json or state.json there (not a search output folder)"
[ -z "$archs" ] || [ -f "$archs" ] || die "--archs $archs: no such file"
[ -f "$ROOT/dist/src/cli/main.js" ] || die "dist/ is missing: run 'npm install' (or 'node scripts/build.mjs') in $ROOT"
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "[retrain-seeds] $*" >&2; }

if [ "$tiny" = 1 ]; then
  if [ -z "$like" ]; then
    like=$out/like
    if [ ! -f "$like/result.json" ]; then
      log "tiny: the protocol search ($like)"
      "${GMNAS[@]}" --space nb201 --preset tiny --dataset synthetic --synthetic-size 128 --device "$device" --quiet --out "$like" \
        >"$out/like.log" 2>&1 || { tail -n 20 "$out/like.log" >&2; die "the tiny protocol search failed"; }
    fi
  fi
  if [ -z "$archs" ]; then
    archs=$out/archs.txt
    printf '%s\n' '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|' \
      '|skip_connect~0|+|none~0|nor_conv_1x1~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_3x3~2|' \
      '|none~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|' >"$archs"
  fi
fi
like=$(cd "$like" && pwd)

# the genotypes, canonical and without duplicates (the same parser as `rank --archs`)
mapfile -t genotypes < <(node "$ROOT/experiments/genotype-list.mjs" "$archs")
[ "${#genotypes[@]}" -ge 2 ] || die "--archs $archs: fewer than two genotypes"
printf '%s\n' "${genotypes[@]}" >"$out/cells.txt"
log "${#genotypes[@]} cells × seeds ${seed_list[*]}, retrained like $like on $device; output $out"

for s in "${seed_list[@]}"; do
  i=0
  for g in "${genotypes[@]}"; do
    i=$((i + 1))
    dir=$out/s$s/$(printf '%s' "$g" | cksum | cut -d' ' -f1)
    if [ -f "$dir/result.json" ]; then
      node "$ROOT/experiments/protocol-current.mjs" "$dir/result.json" retrain </dev/null ||
        die "$dir/result.json was retrained with another retraining protocol version than this build's; use a fresh --out"
      continue
    fi
    mkdir -p "$out/s$s"
    log "seed $s, cell $i/${#genotypes[@]}: $g"
    t0=$(date +%s.%N)
    /usr/bin/time -f '%e s wall, %U s user, %S s sys' -o "$dir.time" \
      "${GMNAS[@]}" train --like "$like" --arch "$g" --seed "$s" --device "$device" --out "$dir" --overwrite --quiet >"$dir.log" 2>&1 ||
      { cat "$dir.log" >&2; die "retraining $g with seed $s failed (log: $dir.log)"; }
    log "  $(tail -n 2 "$dir.log" | head -n 1) [$(cat "$dir.time")]"
  done
done

truth_args=()
[ -n "$truth" ] && truth_args=(--truth "$truth" --truth-seed "$truth_seed" --column "$column")
node "$ROOT/experiments/truth-seeds.mjs" --dir "$out" --seeds "${seed_list[*]}" "${truth_args[@]}"
