#!/usr/bin/env bash
# The GPU session that trained the built-in SELD models and checked the GPU paths, as run on the
# device machine (one H200, 16 CPU cores) from the repository root, with OUT set:
#   bash benchmarks/recipes/gpu_session_seld.sh
# Needs .whl/ (wheels of soundloc's dependencies missing there, for its Python) and
# .devcarry/cache/ (the built-in corpus cache: that machine has no eSpeak). Everything it makes
# comes back as OUT/*.txt and OUT/runs.tgz (models, logs, curves, scores; no datasets).
set -uo pipefail
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 )) s] $*"; }
PY=${PY:-python3}
if [[ -z "${NO_WHEELS:-}" ]]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
fi
export PYTHONPATH=/tmp/site:$PWD/src SOUNDLOC_CACHE=${SOUNDLOC_CACHE:-$PWD/.devcarry/cache}
W=${W:-/tmp/w}; mkdir -p "$W" "$OUT"
CLIPS=${CLIPS:-800}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
$PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)" >> "$OUT/gpu.txt"
el "GPU checks + train benchmark (background), simulation"
( $PY benchmarks/gpu_check.py > "$OUT/gpu_check.txt" 2>&1
  $PY benchmarks/train.py --device cuda --batch 32 --steps 10 --threads 2 > "$OUT/bench_train.txt" 2>&1 ) &
checks=$!
sims=()
for n in tetra-mic foa circular4; do
  $PY -m soundloc simulate "$W/data-$n" --config "benchmarks/recipes/seld_$n.yaml" --clips "$CLIPS" \
      --workers "${SIM_WORKERS:-4}" --no-progress > "$W/sim-$n.log" 2>&1 &
  sims+=($!)
done
wait "${sims[@]}"
el "simulated: $(du -sh "$W" | cut -f1)"; tail -n 2 "$W"/sim-*.log
export DEVICE=${DEVICE:-cuda} EPOCHS=${EPOCHS:-20} STEPS=${STEPS:-150} BATCH=32 WORKERS=2 MAX_MINUTES=${MAX_MINUTES:-4} \
    SKIP_SIMULATE=1 SOUNDLOC="$PY -m soundloc" PYTHON=$PY EVAL_CLIPS=${EVAL_CLIPS:-0}
R=benchmarks/recipes/seld.sh
trains=()
bash $R tetra-mic "$W" > "$W/train-tetra-mic.log" 2>&1 & trains+=($!)
bash $R foa "$W" > "$W/train-foa.log" 2>&1 & trains+=($!)
bash $R circular4 "$W" > "$W/train-circular4.log" 2>&1 & trains+=($!)
FEATURES=salsa-lite TAG=salsa CLASSICAL=none bash $R tetra-mic "$W" > "$W/train-tetra-salsa.log" 2>&1 & trains+=($!)
MODEL_KWARGS={} MODEL=resnet-conformer TAG=rc CLASSICAL=none bash $R tetra-mic "$W" > "$W/train-tetra-rc.log" 2>&1 & trains+=($!)
pack() {
  (cd "$W" && tar czf "$OUT/runs.tgz.tmp" --exclude='checkpoint-*' --exclude='predictions' --exclude='tensorboard' \
      run-* train-*.log sim-*.log data-*/dataset.json && mv "$OUT/runs.tgz.tmp" "$OUT/runs.tgz")
}
# a watchdog packs what exists shortly before the device command's time limit (DEADLINE s after start)
( sleep $(( ${DEADLINE:-545} - ($(date +%s) - T0) )); [[ -f "$OUT/runs.tgz" ]] || { pack; echo "watchdog packed at $(( $(date +%s) - T0 )) s"; } ) > "$OUT/watchdog.txt" 2>&1 < /dev/null &
dog=$!
wait "${trains[@]}"
el "trainings done"; wait "$checks"
for f in "$W"/train-*.log; do echo "== $f"; grep -E "^epoch|stopped|best epoch|DCASE|SELD|Error|error" "$f" | tail -n 12; done
pack
pkill -P "$dog" sleep 2>/dev/null; kill "$dog" 2>/dev/null
el "packed: $(du -h "$OUT/runs.tgz" | cut -f1)"
