#!/usr/bin/env bash
# The adapters behind bench/RESULTS.md's quality table, as trained on the 2-core CPU machine.
#
#   bash bench/train_adapters.sh [ADAPTER_DIR] [MODEL]   # defaults: adapters/smollm2, default
#   e.g. bash bench/train_adapters.sh adapters/qwen2.5-coder-0.5b qwen2.5-coder-0.5b
#
# One graded set for all methods: 1,500 of the model's own answers to the training mix,
# split 1,000 train / ~500 held out (the same split for every method: same seed and data
# settings). Steps are what a shared 2-core CPU afforded in one session (the papers use
# thousands); lr 2e-4 for calibration-tune, twice the paper's, for the same reason.
# Each step is resumable: re-running skips finished adapters (--resume continues a killed one).
set -euo pipefail
OUT=${1:-adapters/smollm2}
MODEL=${2:-default}  # any `calib-eval train --model` name: zoo name, HF folder or hub id
DATA=${CALIB_EVAL_DATA:-../shared/data}
DATA_ARGS=(); [ -d "$DATA" ] && DATA_ARGS=(--data-root "$DATA")  # else the loaders use the hub datasets
COMMON=(--model "$MODEL" --max-examples 1500 --holdout-fraction 0.3345 --seed 0 "${DATA_ARGS[@]}" --checkpoint-every 50)

train() {  # name, extra flags...
  local name=$1; shift
  if [ -f "$OUT/$name/calib_card.json" ]; then echo "skip $name (done)"; return; fi
  local resume=(); [ -d "$OUT/$name" ] && resume=(--resume)
  calib-eval train --recipe "adapters/recipes/$name.yaml" --output "$OUT/$name" "${COMMON[@]}" "${resume[@]}" "$@"
}

case "${ONLY:-all}" in
  calibration-tune|all) train calibration-tune --steps ${CT_STEPS:-200} --lr 2e-4 ;;&
  rest|all)
    train ua-clm --steps 100
    train verbalized-sft --steps 100
    train multitask-sft --steps 100
    [ -f "$OUT/temperature/calib_card.json" ] || calib-eval train --recipe adapters/recipes/temperature.yaml \
        --output "$OUT/temperature" --model "$MODEL" --val-limit 200 "${DATA_ARGS[@]}"
    ;;&
  probe|all) train probe ;;
esac
