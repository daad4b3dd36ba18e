#!/usr/bin/env bash
# How much a training recipe's result depends on its seed: several seeds trained side by side on one GPU, then
# each run's best.pt (and last.pt) scored on the miniature's Test split and the real pairs by
# benchmarks/brightness_headroom.py (benchmarks/README.md, "Seed spread on an H200").
#
#   OUT=/some/folder bash benchmarks/gpu_seed_spread.sh                  # small-x2, seeds 1 2 3
#   OUT=/some/folder PRESET=small-x4 SEEDS="1 2" EXTRA="--train.ema_decay=0.998" bash benchmarks/gpu_seed_spread.sh
#
# A training step of the small presets is host-bound (benchmarks/README.md, "Results on an H200"), so runs side by
# side share the GPU well; each gets WORKERS loader processes simulating its pairs. Each run stops at LIMIT seconds
# whatever its step, so a slow machine still leaves the figures of shorter runs (their log.csv says how far they
# got). Results: $OUT/seed-spread.tar.gz (each run's config, logs and scores; no weights) and $OUT/log.txt.
# GPU training is not bit-reproducible (cuDNN), so these runs are samples of the recipe, not of the CPU's runs.
set -u
OUT=${OUT:?set OUT to the folder for the results}
PRESET=${PRESET:-small-x2}
SEEDS=${SEEDS:-1 2 3}
EXTRA=${EXTRA:-}
LIMIT=${LIMIT:-500}
WORKERS=${WORKERS:-4}
DEVICE=${DEVICE:-cuda}
RUNS=${RUNS:-/tmp/seed-spread}
PY=${PY:-python3}
mkdir -p "$OUT" "$RUNS"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TQDM_DISABLE=1 MPLBACKEND=Agg OMP_NUM_THREADS=2
LOG=$OUT/log.txt

echo "preset $PRESET, seeds $SEEDS, extra '$EXTRA', limit ${LIMIT}s, $WORKERS workers each, device $DEVICE" | tee -a "$LOG"
start=$SECONDS
for seed in $SEEDS; do
    # shellcheck disable=SC2086  # EXTRA holds several overrides
    timeout "$LIMIT" $PY -m lolisr_lib train --preset "$PRESET" --device "$DEVICE" --train.num_workers="$WORKERS" \
        --train.seed="$seed" $EXTRA --no-progress --out "$RUNS/seed$seed" >"$RUNS/seed$seed-train.txt" 2>&1 &
done
wait
echo "training: $((SECONDS - start)) s" | tee -a "$LOG"

start=$SECONDS
for seed in $SEEDS; do
    for which in best last; do
        if [ -f "$RUNS/seed$seed/$which.pt" ]; then
            $PY benchmarks/brightness_headroom.py "$RUNS/seed$seed/$which.pt" --device "$DEVICE" \
                --out "$RUNS/seed$seed-$which.json" >"$RUNS/seed$seed-$which.txt" 2>&1 &
        fi
    done
done
wait
echo "scoring: $((SECONDS - start)) s" | tee -a "$LOG"

for seed in $SEEDS; do
    echo "--- seed $seed: last log line, Val" >>"$LOG"
    tail -n 1 "$RUNS/seed$seed/log.csv" >>"$LOG" 2>&1
    cat "$RUNS/seed$seed/val.csv" >>"$LOG" 2>&1
    tail -n 3 "$RUNS/seed$seed-train.txt" >>"$LOG" 2>&1
done
(cd "$RUNS" && tar -czf "$OUT/seed-spread.tar.gz" --exclude='*.pt' .)
echo "done" | tee -a "$LOG"
