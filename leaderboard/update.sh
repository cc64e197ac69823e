#!/usr/bin/env bash
# The leaderboard workflow's steps, in one script: .github/workflows/leaderboard.yml calls it stage by
# stage, and anyone can run the same stages locally, so the workflow and a local run cannot drift.
#
#   bash leaderboard/update.sh [STAGE...]        # default: install train update
#
# Stages (in the order given):
#   install   pip install -e ".[gguf]" into the current Python
#   train     train the adapters the spec scores with that live under $ADAPTERS (bench/train_adapters.sh;
#             finished ones are skipped); nothing when the spec names none
#   update    calib-eval leaderboard update: run what the spec lists and $OUT/results lacks, rebuild $OUT
#   publish   commit $OUT and push (CI; needs a git identity and push rights)
#
# Environment:
#   SPEC=leaderboard/models.yaml   OUT=leaderboard   ADAPTERS=adapters/smollm2
#   WORK_DIR=      keep the runs' own output here (default: a temporary folder)
#   RUN_LABEL=     appended to the publish commit message (the workflow passes its run number)
set -euo pipefail
SPEC=${SPEC:-leaderboard/models.yaml}
OUT=${OUT:-leaderboard}
ADAPTERS=${ADAPTERS:-adapters/smollm2}

stage_install() {
  python -m pip install --upgrade pip
  python -m pip install -e ".[gguf]"
}

stage_train() {
  # only adapter folders the spec names under $ADAPTERS; a spec of your own trains what it names itself
  if ! grep -Eq "^[^#]*[[:space:]]${ADAPTERS%/}/" "$SPEC"; then
    echo "train: $SPEC names no adapter under $ADAPTERS/; nothing to train"
    return
  fi
  calib-eval models pull default
  bash bench/train_adapters.sh "$ADAPTERS"
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
