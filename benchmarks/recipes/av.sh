#!/usr/bin/env bash
# Train EZ-VSL, SLAVC and FNAC in parallel on the built-in AV benchmark and score each against the floors.
#
#   DEVICE=cuda EPOCHS=30 OUT=av_out bash benchmarks/recipes/av.sh
#
# Env (defaults): DEVICE (cuda), EPOCHS (30), OUT (av_out), MINUTES (2.0: each run stops after the epoch in
# which this ran out; --resume continues), TRAIN (32000), VAL (1000), TEST (1000), IMAGE (64), WIDTH (32),
# BATCH (128), THREADS (4 torch CPU threads per run), WORKERS (16 generation processes), PYTHON (python),
# SOUNDLOC_CACHE (benchmark cache), FRESH (0; 1: av-train --fresh, TRAIN new samples every epoch generated in each
# training process, no preparation step: a fixed split is memorised pair by pair, see docs/av.md). Model selection: validation AUC at threshold 0.5, never test.
# Writes OUT/<loss>/ (the run), OUT/<loss>_{t05,median}.json (av-evaluate --baselines), OUT/results.{json,md},
# OUT/<loss>.log. Run from the repository root (PYTHONPATH=src is set here).
set -euo pipefail
DEVICE=${DEVICE:-cuda}; EPOCHS=${EPOCHS:-30}; OUT=${OUT:-av_out}; MINUTES=${MINUTES:-2.0}
TRAIN=${TRAIN:-32000}; VAL=${VAL:-1000}; TEST=${TEST:-1000}; IMAGE=${IMAGE:-64}; WIDTH=${WIDTH:-32}
FRESH=${FRESH:-0}; BATCH=${BATCH:-128}; THREADS=${THREADS:-4}; WORKERS=${WORKERS:-16}; PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
SL=("$PYTHON" -c 'import sys; from soundloc.cli import main; sys.exit(main(sys.argv[1:]))')
mkdir -p "$OUT"
t0=$(date +%s)
fresh=()
if [ "$FRESH" = 1 ]; then
  fresh=(--fresh)
else
  "$PYTHON" benchmarks/recipes/av_prepare.py --image-size "$IMAGE" --sizes "$TRAIN,$VAL,$TEST" --workers "$WORKERS"
fi
common=(builtin --epochs "$EPOCHS" --batch-size "$BATCH" --train-size "$TRAIN" --val-size "$VAL" --test-size "$TEST"
        --image-size "$IMAGE" --width "$WIDTH" --audio-width "$WIDTH" --blocks 1,1 --stem-stride 2 --embed-dim 128
        --seed 0 --select auc --threshold 0.5 --device "$DEVICE" --threads "$THREADS" --max-minutes "$MINUTES" "${fresh[@]}")
pids=()
for loss in ezvsl slavc fnac; do
  resume=(); [ -f "$OUT/$loss/checkpoint.json" ] && resume=(--resume)
  "${SL[@]}" av-train "${common[@]}" --loss "$loss" --out "$OUT/$loss" "${resume[@]}" >"$OUT/$loss.log" 2>&1 &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ "$fail" = 0 ] || { echo "av.sh: a training run failed; see $OUT/*.log" >&2; tail -n 5 "$OUT"/*.log >&2; exit 1; }
for loss in ezvsl slavc fnac; do
  for th in 0.5 median; do
    tag=$([ "$th" = 0.5 ] && echo t05 || echo median)
    OMP_NUM_THREADS=$THREADS "${SL[@]}" av-evaluate "$OUT/$loss" builtin --baselines --threshold "$th" \
      --format json >"$OUT/${loss}_$tag.json" &
  done
done
wait
"$PYTHON" - "$OUT" "$(( $(date +%s) - t0 ))" <<'PY'
import json, sys
from pathlib import Path
out, seconds = Path(sys.argv[1]), int(sys.argv[2])
rows, doc = [], {"seconds_total": seconds, "runs": {}}
for loss in ("ezvsl", "slavc", "fnac"):
    hist = json.loads((out / loss / "history.json").read_text())
    doc["runs"][loss] = {"best": hist["best"], "epochs": len(hist["epochs"]), "train_seconds": hist["seconds"]}
    for tag, th in (("t05", "0.5"), ("median", "median")):
        res = json.loads((out / f"{loss}_{tag}.json").read_text())
        doc["runs"][loss][tag] = res
        for name, r in res.items():
            label = f"{loss} (val-selected epoch {hist['best']['epoch']})" if name == "model" else f"{name} ({loss} run)"
            rows.append(f"| {label} | {th} | {r['cIoU@0.5']:.3f} | {r['cIoU_mean']:.3f} | {r['AUC']:.3f} | {r['AP']:.3f} | {r['max_F1']:.3f} |")
(out / "results.json").write_text(json.dumps(doc, indent=1))
md = ["| method | threshold | cIoU@0.5 | cIoU mean | AUC | AP | max-F1 |", "| --- | --- | --- | --- | --- | --- | --- |", *rows,
      "", f"Total wall time {seconds} s; training: " + ", ".join(
          f"{k} {v['epochs']} epochs in {v['train_seconds']:.0f} s" for k, v in doc["runs"].items())]
(out / "results.md").write_text("\n".join(md) + "\n")
print("\n".join(md))
PY
