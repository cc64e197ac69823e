#!/usr/bin/env bash
# The adapters behind bench/RESULTS.md's quality table, as trained on the 2-core CPU machine.
#
#   bash bench/train_adapters.sh [ADAPTER_DIR] [MODEL]   # defaults: adapters/smollm2, default
#   e.g. bash bench/train_adapters.sh adapters/qwen2.5-coder-0.5b qwen2.5-coder-0.5b
#   ONLY=calibration-tune|ua-clm|probe|sft|rest trains one part (default: all; sft: verbalized- and
#   multitask-sft, Steyvers' pair; rest: ua-clm, sft and temperature)
#
# One graded set for all methods: 1,500 of the model's own answers to the training mix,
# split 1,000 train / ~500 held out (the same split for every method: same seed and data
# settings). Steps are what a shared 2-core CPU afforded in one session (the papers use
# thousands); lr 2e-4 for calibration-tune, twice the paper's, for the same reason.
# Each step is resumable: re-running skips finished adapters (--resume continues a killed one).
# TRAIN_FLAGS adds flags to every LoRA/probe run, e.g. TRAIN_FLAGS="--mixed-precision bf16": bf16
# autocast on CPU made a Qwen2.5-Coder-0.5B LoRA step ~2.7x faster than float32 (weights stay float32).
set -euo pipefail
OUT=${1:-adapters/smollm2}
MODEL=${2:-default}  # any `calib-eval train --model` name: zoo name, HF folder or hub id
DATA=${CALIB_EVAL_DATA:-../shared/data}
DATA_ARGS=(); [ -d "$DATA" ] && DATA_ARGS=(--data-root "$DATA")  # else the loaders use the hub datasets
read -r -a EXTRA <<< "${TRAIN_FLAGS:-}"
COMMON=(--model "$MODEL" --max-examples 1500 --holdout-fraction 0.3345 --seed 0 "${DATA_ARGS[@]}" --checkpoint-every 50
        "${EXTRA[@]}")

train() {  # name, extra flags...
  local name=$1 recipe=$1; shift
  case $name in ua-clm-ce) recipe=ua-clm ;; esac  # the same recipe with a plain CE term added
  if [ -f "$OUT/$name/calib_card.json" ]; then echo "skip $name (done)"; return; fi
  local resume=(); [ -d "$OUT/$name" ] && resume=(--resume)
  calib-eval train --recipe "adapters/recipes/$recipe.yaml" --output "$OUT/$name" "${COMMON[@]}" "${resume[@]}" "$@"
}

case "${ONLY:-all}" in
  calibration-tune|all) train calibration-tune --steps ${CT_STEPS:-200} --lr 2e-4 ;;&
  ua-clm|rest|all)
    train ua-clm --steps 100
    train ua-clm-ce --steps 100 --ce-weight 1.0  # the paper's loss is ambiguous about a CE term: train both
    ;;&
  sft|rest|all)
    train verbalized-sft --steps 100
    train multitask-sft --steps 100
    ;;&
  rest|all)
    [ -f "$OUT/temperature/calib_card.json" ] || calib-eval train --recipe adapters/recipes/temperature.yaml \
        --output "$OUT/temperature" --model "$MODEL" --val-limit 200 "${DATA_ARGS[@]}"
    ;;&
  probe|all) train probe ;;
esac
