#!/usr/bin/env bash
# The GPU session that checked the GPU paths and trained the built-in models, as run on the device
# machine (one H200, 16 CPU cores, ~9 minutes) from the repository root, with OUT set:
#   bash benchmarks/recipes/gpu_session.sh
# In parallel: GPU checks (benchmarks/gpu_check.py) and the training benchmark on CUDA; the SELD
# recipes (seld.sh: tetra-mic, foa, circular4, plus SALSA-lite and ResNet-Conformer on tetra-mic);
# the MC-SimCLR table (mcsimclr.sh on 7000 simulated clips); the AV recipe (av.sh).
# Needs .whl/ (wheels of soundloc's dependencies missing there, for its Python) and
# .devcarry/cache/ (the built-in corpus and spoken-digit caches). Results come back as a few
# files in OUT (logs, models, scores; no datasets).
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
CLIPS=${CLIPS:-800}; SSL_CLIPS=${SSL_CLIPS:-7000}; DEADLINE=${DEADLINE:-555}
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)"; } > "$OUT/gpu_check.txt" 2>&1

el "GPU checks + train benchmark (background); simulation"
( $PY benchmarks/gpu_check.py >> "$OUT/gpu_check.txt" 2>&1
  $PY benchmarks/train.py --device cuda --batch 32 --steps 10 --threads 2 > "$OUT/bench_train.txt" 2>&1 ) &
checks=$!
sims=()
for n in tetra-mic foa circular4; do
  $PY -m soundloc simulate "$W/data-$n" --config "benchmarks/recipes/seld_$n.yaml" --clips "$CLIPS" \
      --workers "${SIM_WORKERS:-3}" --no-progress > "$W/sim-$n.log" 2>&1 &
  sims+=($!)
done
$PY -m soundloc simulate "$W/data-mcsimclr" --preset mcsimclr --clips "$SSL_CLIPS" --workers "${SSL_SIM_WORKERS:-5}" \
    --no-progress > "$W/sim-mcsimclr.log" 2>&1 &
ssl_sim=$!

# MC-SimCLR: pretraining ablations + probes, as soon as its data is there
( wait_for() { while kill -0 "$1" 2>/dev/null; do sleep 1; done; }
  wait_for $ssl_sim; el "mcsimclr data: $(tail -n 1 "$W/sim-mcsimclr.log")"
  DATA="$W/data-mcsimclr" OUT="$W/ssl" EPOCHS=${SSL_EPOCHS:-40} DEVICE=${DEVICE:-cuda} JOBS=${SSL_JOBS:-6} THREADS=2 \
      MAX_MINUTES=${SSL_MINUTES:-2} PROBE_EPOCHS=${PROBE_EPOCHS:-10} PROBE_MIN_STEPS=${PROBE_MIN_STEPS:-100} \
      MODEL_KWARGS=${SSL_MODEL_KWARGS:-"{}"} PYTHON=$PY bash benchmarks/recipes/mcsimclr.sh > "$W/ssl.log" 2>&1
  el "ssl done" ) &
ssl=$!

wait "${sims[@]}"
el "SELD data: $(du -sh "$W" | cut -f1)"; tail -q -n 1 "$W"/sim-*.log

# AV: after the simulations (its benchmark generation is CPU work too)
( DEVICE=${DEVICE:-cuda} EPOCHS=${AV_EPOCHS:-30} OUT="$W/av" MINUTES=${AV_MINUTES:-2} TRAIN=${AV_TRAIN:-16000} WORKERS=4 \
      THREADS=2 PYTHON=$PY bash benchmarks/recipes/av.sh > "$W/av.log" 2>&1; el "av done" ) &
av=$!

export DEVICE=${DEVICE:-cuda} EPOCHS=${EPOCHS:-20} STEPS=${STEPS:-150} BATCH=32 WORKERS=2 MAX_MINUTES=${MAX_MINUTES:-3.5} \
    SKIP_SIMULATE=1 SOUNDLOC="$PY -m soundloc" PYTHON=$PY EVAL_CLIPS=${EVAL_CLIPS:-0}
R=benchmarks/recipes/seld.sh
trains=()
bash $R tetra-mic "$W" > "$W/train-tetra-mic.log" 2>&1 & trains+=($!)
bash $R foa "$W" > "$W/train-foa.log" 2>&1 & trains+=($!)
bash $R circular4 "$W" > "$W/train-circular4.log" 2>&1 & trains+=($!)
FEATURES=salsa-lite TAG=salsa CLASSICAL=none bash $R tetra-mic "$W" > "$W/train-tetra-salsa.log" 2>&1 & trains+=($!)
MODEL_KWARGS={} MODEL=resnet-conformer TAG=rc CLASSICAL=none bash $R tetra-mic "$W" > "$W/train-tetra-rc.log" 2>&1 & trains+=($!)

pack() {  # one archive per part, each well under the 16 MiB a returned file may have
  cd "$W" || return
  tar czf "$OUT/seld_models.tgz" run-tetra-mic/best.* run-foa/best.* run-circular4/best.* 2>/dev/null
  tar czf "$OUT/seld_runs.tgz" --exclude='checkpoint-*' --exclude='predictions' --exclude='tensorboard' \
      --exclude='best.safetensors' run-* train-*.log sim-*.log data-*/dataset.json 2>/dev/null
  tar czf "$OUT/ssl.tgz" --exclude='checkpoint-*' --exclude='*.safetensors' ssl ssl.log 2>/dev/null
  tar czf "$OUT/ssl_encoder.tgz" ssl/pretrain/all/encoder.* 2>/dev/null
  tar czf "$OUT/av.tgz" --exclude='checkpoint-*' --exclude='*.npz' av av.log 2>/dev/null
  cd - > /dev/null || return
}
# a watchdog packs what exists shortly before the device command's time limit
( sleep $(( DEADLINE - ($(date +%s) - T0) )); echo "[watchdog] packing at $(( $(date +%s) - T0 )) s" >> "$OUT/session.txt"
  pack ) > /dev/null 2>&1 < /dev/null &
dog=$!
wait "${trains[@]}"; el "SELD done"
wait "$ssl" "$av" "$checks"; el "all done"
for f in "$W"/train-*.log; do echo "== $f"; grep -E "^epoch|stopped|best epoch|Error|error" "$f" | tail -n 6; done
tail -n 30 "$W/ssl.log"; tail -n 30 "$W/av.log"
pkill -P "$dog" sleep 2>/dev/null; kill "$dog" 2>/dev/null
pack
el "packed: $(cd "$OUT" && du -h ./*.tgz | tr '\n' ' ')"
