#!/usr/bin/env bash
# Does perturbation-based derivation (--derive perturbation, src/search/perturbation.ts) pick better
# cells than argmax α on the same trained leaves? Takes a finished experiments/quality.sh folder,
# re-derives every leaf of its searches from the saved checkpoints (experiments/derive-leaves.mjs: the
# search's own finishLeaf with only the derivation changed), retrains each new genotype with its
# search's protocol (`train --like`), and writes OUT/perturbation/perturbation.md and .json: per method
# and seed the α pick (the search's final.retrain) against the perturbation pick under the same
# selector, with percentiles of quality.sh's reference sample. A rerun reuses every finished step.
#
#   experiments/perturbation.sh --from runs/quality [--methods "gm oneshot fewshot random"] [--device D]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GMNAS=(node "$ROOT/run.js")
die() { echo "perturbation.sh: $*" >&2; exit 2; }
log() { echo "[perturbation] $*" >&2; }
from='' methods='gm oneshot fewshot random' device=auto
while [ "$#" -gt 0 ]; do
  case "$1" in
    --from) [ "$#" -ge 2 ] || die "--from needs a value"; from=$2; shift ;;
    --methods) [ "$#" -ge 2 ] || die "--methods needs a value"; methods=$2; shift ;;
    --device) [ "$#" -ge 2 ] || die "--device needs a value"; device=$2; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
[ -n "$from" ] || die "--from DIR (a finished experiments/quality.sh folder) is required"
[ -d "$from/runs" ] || die "$from: no runs/; run experiments/quality.sh --out $from first"
from=$(cd "$from" && pwd)
out=$from/perturbation
mkdir -p "$out/derived" "$out/retrain"
for run in "$from"/runs/*; do
  name=$(basename "$run"); method=${name%-s*}
  [[ " $methods " == *" $method "* ]] || continue
  [ -f "$out/derived/$name.jsonl" ] && continue
  [ -f "$run/result.json" ] || { log "$name: not finished yet, skipped"; continue; }
  log "$name: deriving every leaf by perturbation"
  node "$ROOT/experiments/derive-leaves.mjs" --device "$device" "$run" >"$out/derived/$name.tmp" 2>"$out/derived/$name.log" ||
    { cat "$out/derived/$name.log" >&2; die "$name: derivation failed"; }
  mv "$out/derived/$name.tmp" "$out/derived/$name.jsonl"
done
for f in "$out"/derived/*.jsonl; do
  name=$(basename "$f" .jsonl)
  while read -r node g; do
    dir=$out/retrain/$name/n$node
    [ -f "$dir/result.json" ] && continue
    mkdir -p "$out/retrain/$name"
    log "$name leaf $node: retraining $g"
    "${GMNAS[@]}" train --like "$from/runs/$name" --arch "$g" --device "$device" --out "$dir" --quiet >"$dir.log" 2>&1 ||
      { cat "$dir.log" >&2; die "retraining $g failed (log: $dir.log)"; }
  done < <(node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")) { const r = JSON.parse(l); console.log(`${r.node} ${r.genotype}`); }' "$f")
done
if [ -f "$from/quality.json" ]; then node "$ROOT/experiments/perturbation-report.mjs" "$from"
else log "no $from/quality.json yet (quality.sh has not finished): the report needs its reference sample; rerun then"; fi
