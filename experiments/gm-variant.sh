#!/usr/bin/env bash
# One GM (or one-shot) search of the ranking curve's setting with extra search flags, then `rank`,
# `correlate` and the leaf diagnostics — the training-side experiments of docs/quality.md
# "Why GM ranks worst". The setting is experiments/ranking.sh --quick --curve's: RSPS, the embedded
# Fashion-MNIST at 16×16, C=8 N=1, 12 000 training images, batch 64, 25 steps per supernet-epoch, the
# same budget split as ranking.sh (GM: splits s1,s2 of E epochs; one-shot: B epochs). The final
# retraining and path tuning are skipped: they do not touch the leaf checkpoints that `rank` reads.
#
#   experiments/gm-variant.sh OUT ARCHS TRUTH BUDGET METHOD [search flags...]
#   e.g. experiments/gm-variant.sh runs/v/fix40 archs.txt truth.csv 40 gm --fix-schedule
# --split-epochs / --epochs among the flags replace the budget's schedule (keep the budget: for GM
# s1 + 2(s2 − s1) + 4(E − s2) = BUDGET).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$#" -ge 5 ] || { echo "usage: experiments/gm-variant.sh OUT ARCHS TRUTH BUDGET gm|oneshot|fewshot [search flags...]" >&2; exit 2; }
out=$1 archs=$2 truth=$3 budget=$4 method=$5
shift 5
case "$method:$budget" in
  gm:40) sched=(--method gm --split-epochs 2,5 --epochs 13) ;;
  gm:80) sched=(--method gm --split-epochs 6,13 --epochs 28) ;;
  oneshot:*) sched=(--method oneshot --epochs "$budget") ;;
  fewshot:*) sched=(--method fewshot --split-epochs 0 --epochs $((budget / 5))) ;;
  *) echo "gm-variant.sh: no schedule for $method at budget $budget (GM: 40 or 80, as ranking.sh's curve)" >&2; exit 2 ;;
esac
# a schedule among the extra flags (--split-epochs / --epochs: another split timing) replaces the default
for a in "$@"; do case "$a" in --split-epochs | --epochs) sched=(--method "$method") ;; esac; done
mkdir -p "$out"
run=$out/runs/$method
if [ ! -f "$run/result.json" ]; then
  /usr/bin/time -f '%e s wall, %U s user, %S s sys' -o "$out/time-$method.txt" \
    node "$ROOT/run.js" --space nb201 --base rsps --preset quick --dataset fashion-mnist-embedded --channels 8 --cells 1 \
    --train-limit 12000 --rsps-candidates 4 --workers 1 --quiet --no-retrain --path-tune-steps 0 "${sched[@]}" "$@" --out "$run" \
    >"$out/search-$method.log" 2>&1 || { tail -n 20 "$out/search-$method.log" >&2; exit 1; }
fi
[ -f "$out/rank-$method.csv" ] ||
  node "$ROOT/run.js" rank --from "$run" --archs "$archs" --out "$out/rank-$method.csv" --quiet 2>"$out/rank-$method.log"
node "$ROOT/run.js" correlate --pred "$out/rank-$method.csv" --truth "$truth" --column test_accuracy --top 0.1,0.5,1 --json >"$out/correlate-$method.json"
echo "$out $method: $(cat "$out/time-$method.txt" 2>/dev/null); $(tail -n 1 "$out/correlate-$method.json")"
