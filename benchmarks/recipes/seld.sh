#!/usr/bin/env bash
# Recipe of a built-in SELD model: simulate its dataset, train, evaluate -- one command.
#
#   bash benchmarks/recipes/seld.sh NAME [OUT]
#
# NAME: tetra-mic | foa | circular4 (scene config benchmarks/recipes/seld_NAME.yaml).
# OUT (default recipes-out): OUT/data-NAME (the dataset), OUT/run-NAME[-TAG] (the run).
# Every step resumes: rerun the same command after a kill (finished clips and the training
# checkpoint are kept; the result equals an uninterrupted run). Settings (environment):
#   CLIPS (1000)  DATA_SEED (0)  SIM_WORKERS (2)       dataset size / seed / simulation processes
#   MODEL (crnn)  FEATURES (mic, foa for NAME=foa)  OUTPUT (multi-accddoa)  MODEL_KWARGS ({})
#   EPOCHS (20)  STEPS (120)  BATCH (32)  LR (1e-3)  SEED (0)  WORKERS (2)  DEVICE (auto)
#   MAX_MINUTES (unset: no time cap)  TAG (run-name suffix)  SOUNDLOC ("python -m soundloc")
#   SKIP_SIMULATE (unset; 1: the dataset exists)  CLASSICAL (auto: every classical method of the
#   array; none; or a comma list)  EVAL_CLIPS (0: all test clips in the comparison)
# The run folder gets evaluate.txt (DCASE2024 + DCASE2023 tables on the test split) and
# vs_classical.json (benchmarks/seld_vs_classical.py on the test split).
set -euo pipefail
name=${1:?usage: seld.sh tetra-mic|foa|circular4 [OUT]}
out=${2:-recipes-out}
here=$(cd "$(dirname "$0")" && pwd)
config="$here/seld_$name.yaml"
[[ -f "$config" ]] || { echo "unknown recipe '$name': no $config" >&2; exit 2; }
SL=${SOUNDLOC:-python -m soundloc}
PY=${PYTHON:-python}
default_features=mic
[[ "$name" == foa ]] && default_features=foa
features=${FEATURES:-$default_features}
model=${MODEL:-crnn}
data="$out/data-$name"
run="$out/run-$name${TAG:+-$TAG}"
device=${DEVICE:-auto}
eval_device=$device
[[ "$device" == auto ]] && eval_device=$($PY -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
mkdir -p "$out"

if [[ -z "${SKIP_SIMULATE:-}" ]]; then
  $SL simulate "$data" --config "$config" --clips "${CLIPS:-1000}" --seed "${DATA_SEED:-0}" \
      --workers "${SIM_WORKERS:-2}" --no-progress
fi

time_cap=()
[[ -n "${MAX_MINUTES:-}" ]] && time_cap=(--max-minutes "$MAX_MINUTES")
$SL train "$data" --out "$run" --model "$model" --features "$features" --output "${OUTPUT:-multi-accddoa}" \
    --model-kwargs "${MODEL_KWARGS:-{\}}" --epochs "${EPOCHS:-20}" --steps-per-epoch "${STEPS:-120}" \
    --batch-size "${BATCH:-32}" --lr "${LR:-1e-3}" --seed "${SEED:-0}" --workers "${WORKERS:-2}" \
    --device "$device" --select seld --patience 0 "${time_cap[@]}"

$SL evaluate "$run" "$data" --device "$eval_device" > "$run/evaluate.txt"
cat "$run/evaluate.txt"
PYTHONPATH="$here/../../src${PYTHONPATH:+:$PYTHONPATH}" $PY "$here/../seld_vs_classical.py" "$data" \
    --model "$name=$run" --device "$eval_device" --methods "${CLASSICAL:-auto}" --max-clips "${EVAL_CLIPS:-0}" \
    --json "$run/vs_classical.json"
