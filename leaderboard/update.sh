#!/usr/bin/env bash
# The leaderboard workflow's steps, in one script: .github/workflows/leaderboard.yml calls it stage by
# stage, and anyone can run the same stages locally, so the workflow and a local run cannot drift.
#
#   bash leaderboard/update.sh [STAGE...]        # default: install train update
#
# Stages (in the order given):
#   install   pip install -e ".[gguf]" into the current Python
#   train     train the adapters the spec scores with (bench/train_adapters.sh, one call per adapter folder
#             and base model, as `calib-eval leaderboard adapters` lists them; finished ones are skipped)
#   update    calib-eval leaderboard update: run what the spec lists and $OUT/results lacks, rebuild $OUT
#   publish   commit $OUT and push (CI; needs a git identity and push rights)
#
# Environment:
#   SPEC=leaderboard/models.yaml   OUT=leaderboard
#   TRAIN_FLAGS=   extra flags for every adapter the train stage trains (bench/train_adapters.sh)
#   WORK_DIR=      keep the runs' own output here (default: a temporary folder)
#   RUN_LABEL=     appended to the publish commit message (the workflow passes its run number)
set -euo pipefail
SPEC=${SPEC:-leaderboard/models.yaml}
OUT=${OUT:-leaderboard}
TRAIN_SCRIPT=${TRAIN_SCRIPT:-bench/train_adapters.sh}  # tests substitute a recorder

stage_install() {
  python -m pip install --upgrade pip
  python -m pip install -e ".[gguf]"
}

stage_train() {
  # every adapter folder the spec names that train_adapters.sh makes (calibration-tune, probe, ua-clm, ...),
  # one call per parent folder and base model; other folders a spec names are the user's to train
  local jobs
  jobs=$(calib-eval leaderboard adapters --spec "$SPEC")
  if [ -z "$jobs" ]; then
    echo "train: $SPEC names no adapter that $TRAIN_SCRIPT makes; nothing to train"
    return
  fi
  local folder model dtype source flags
  while IFS=$'\t' read -r folder model dtype source; do
    flags=${TRAIN_FLAGS:-}
    # the leaderboard runs this model in bf16: train it with bf16 autocast too (~2.7x faster on bf16 CPUs)
    [ "$dtype" = bfloat16 ] && flags="--mixed-precision bf16 $flags"
    echo "train: $folder/ for $model${flags:+ ($flags)}"
    [ "$source" = zoo ] && calib-eval models pull "$model" </dev/null
    TRAIN_FLAGS=$flags bash "$TRAIN_SCRIPT" "$folder" "$model" </dev/null  # the script must not eat the job list
  done <<< "$jobs"
}

stage_update() {
  local work=()
  [ -n "${WORK_DIR:-}" ] && work=(--work-dir "$WORK_DIR")
  calib-eval leaderboard update --spec "$SPEC" --out "$OUT" "${work[@]}"
}

stage_publish() {
  git config user.name "calib-eval-bot"
  git config user.email "calib-eval-bot@users.noreply.github.com"
  git add "$OUT"
  git commit -m "leaderboard: refresh${RUN_LABEL:+ ($RUN_LABEL)}" || true  # nothing new: nothing to commit
  git push
}

[ $# -eq 0 ] && set -- install train update
for stage in "$@"; do
  case "$stage" in
    install|train|update|publish) echo "== leaderboard/update.sh: $stage (spec $SPEC, out $OUT)"; "stage_$stage" ;;
    *) echo "leaderboard/update.sh: unknown stage '$stage' (install, train, update, publish)" >&2; exit 2 ;;
  esac
done
