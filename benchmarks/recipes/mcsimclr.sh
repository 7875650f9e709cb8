#!/usr/bin/env bash
# The MC-SimCLR reproduction table (issue 9): pretraining ablations, then probing every encoder.
#
# Input: a dataset folder of the mcsimclr scene preset (>= 5000 train clips), e.g.
#     soundloc simulate data/mcsimclr --preset mcsimclr --clips 7000 --workers 16
# Steps (each step skips what is already done; reruns resume killed pretraining runs exactly):
#   1. pretrain with all augmentations, none, and each of cs / mu / rrc / cd alone   -> $OUT/pretrain/<name>
#   2. per encoder: linear, finetune, subset:0.01, subset:0.1; the random-init encoder (the same
#      architecture, random weights) the same; from scratch on the full set and the same subsets
#      (a protocol whose result file exists is skipped)
#                                                                             -> $OUT/probe/<row>/<protocol>.json
#   3. the markdown table                                                   -> $OUT/table.md (and stdout)
#
# Settings (environment variables):
#   DATA        dataset folder (required)            OUT          output folder (default runs/mcsimclr)
#   EPOCHS      pretraining epochs (default 100)      WARMUP       warm-up epochs (default EPOCHS / 10)
#   BATCH       pretraining batch in pairs (256)      LR           pretraining peak lr (1e-3)
#   PROBE_EPOCHS validation points per probe (30)     PROBE_MIN_STEPS minimum probe steps (300)
#   PROBE_BATCH probe batch (64)                      DEVICE       auto | cpu | cuda (default auto)
#   JOBS        jobs run in parallel (default 1; on one GPU several jobs share it)
#   THREADS     torch threads per job (default: CPUs / JOBS)
#   MODEL_KWARGS encoder settings as JSON (default {}: the 128-d CRNN)
#   MAX_MINUTES stop each pretraining run after this long (resumable; default: no limit)
#   SEED        seed (default 0)                      PYTHON       python with soundloc importable (default python)
#   ROWS        pretraining rows (default "all none cs mu rrc cd")
#
# Tiny CPU check (a few clips, 1 epoch):
#   soundloc simulate /tmp/mc_tiny --preset mcsimclr --clips 40
#   DATA=/tmp/mc_tiny OUT=/tmp/mc_run EPOCHS=1 BATCH=8 PROBE_EPOCHS=1 PROBE_MIN_STEPS=4 JOBS=2 \
#     MODEL_KWARGS='{"conv_channels": 8, "rnn_size": 16, "attn_heads": 2, "attn_layers": 1}' bash benchmarks/recipes/mcsimclr.sh
set -euo pipefail

: "${DATA:?set DATA to a dataset folder of the mcsimclr preset}"
OUT=${OUT:-runs/mcsimclr}
EPOCHS=${EPOCHS:-100}
WARMUP=${WARMUP:-$(( EPOCHS / 10 ))}
BATCH=${BATCH:-256}
LR=${LR:-1e-3}
PROBE_EPOCHS=${PROBE_EPOCHS:-30}
PROBE_MIN_STEPS=${PROBE_MIN_STEPS:-300}
PROBE_BATCH=${PROBE_BATCH:-64}
DEVICE=${DEVICE:-auto}
JOBS=${JOBS:-1}
NCPU=$(nproc 2>/dev/null || echo 2)
THREADS=${THREADS:-$(( NCPU / JOBS > 0 ? NCPU / JOBS : 1 ))}
MODEL_KWARGS=${MODEL_KWARGS:-"{}"}
SEED=${SEED:-0}
PYTHON=${PYTHON:-python}
ROWS=${ROWS:-"all none cs mu rrc cd"}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
mkdir -p "$OUT/logs" "$OUT/probe"
SL=("$PYTHON" -c 'import sys; from soundloc.cli import main; sys.exit(main(sys.argv[1:]))')

# run the lines of a job file, $JOBS at a time; fail if any job failed
run_jobs() {
  local file=$1
  [ -s "$file" ] || return 0
  tr '\n' '\0' < "$file" | xargs -0 -P "$JOBS" -I{} bash -c '{}'
}

q() { printf '%q ' "$@"; }

start=$(date +%s)
: > "$OUT/jobs_pretrain.txt"
for name in $ROWS; do
  aug=$name
  [ "$name" = all ] && aug=cs,mu,rrc,cd
  args=(pretrain "$DATA" --out "$OUT/pretrain/$name" --augment "$aug" --epochs "$EPOCHS" --warmup-epochs "$WARMUP"
        --batch-size "$BATCH" --lr "$LR" --device "$DEVICE" --seed "$SEED" --model-kwargs "$MODEL_KWARGS")
  [ -n "${MAX_MINUTES:-}" ] && args+=(--max-minutes "$MAX_MINUTES")
  echo "$(q "${SL[@]}" "${args[@]}") > $(q "$OUT/logs/pretrain_$name.log") 2>&1" >> "$OUT/jobs_pretrain.txt"
done
echo "pretraining: $ROWS ($JOBS at a time)"
run_jobs "$OUT/jobs_pretrain.txt"
echo "pretraining done in $(( $(date +%s) - start )) s"

probe_args=(--epochs "$PROBE_EPOCHS" --min-steps "$PROBE_MIN_STEPS" --batch-size "$PROBE_BATCH" --device "$DEVICE" --seed "$SEED")
first=${ROWS%% *}
: > "$OUT/jobs_probe.txt"
add_probe() {  # row encoder protocols [extra args]; protocols whose result exists are skipped
  local row=$1 enc=$2 prot="" p
  for p in ${3//,/ }; do
    [ -s "$OUT/probe/$row/${p//:/_}.json" ] || prot=${prot:+$prot,}$p
  done
  shift 3
  [ -n "$prot" ] || return 0
  echo "$(q "${SL[@]}" probe "$enc" "$DATA" --protocol "$prot" --out "$OUT/probe/$row" "${probe_args[@]}" "$@") > $(q "$OUT/logs/probe_$row.log") 2>&1" >> "$OUT/jobs_probe.txt"
}
add_probe random "$OUT/pretrain/$first" linear,finetune,subset:0.01,subset:0.1 --random-init
add_probe scratch "$OUT/pretrain/$first" scratch,scratch:0.01,scratch:0.1
for name in $ROWS; do
  add_probe "$name" "$OUT/pretrain/$name" linear,finetune,subset:0.01,subset:0.1
done
echo "probing: random, scratch, $ROWS ($JOBS at a time)"
run_jobs "$OUT/jobs_probe.txt"

"$PYTHON" "$HERE/ssl_table.py" "$OUT/probe" --out "$OUT/table.md"
echo "total $(( $(date +%s) - start )) s; table: $OUT/table.md"
