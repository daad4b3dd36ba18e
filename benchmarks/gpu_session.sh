#!/usr/bin/env bash
# The GPU checks of one lent-GPU session, in one go (benchmarks/README.md, "Results on an H200").
#
#   OUT=/some/folder bash benchmarks/gpu_session.sh
#   OUT=/some/folder ONLY="cuda-tests profile-paper-x4" bash benchmarks/gpu_session.sh   # some steps only
#
# Runs from the repository root with the machine's own python3 (its torch must see CUDA); nothing is installed.
# Each step has its own time limit and the script goes on after a failure, so one broken step still leaves the
# others' figures in $OUT:
#   env.txt                      GPU, driver, torch
#   cuda-tests.txt               the tests that skip without CUDA
#   h200-paper-x4.json, -x2      `bench` without torch.compile (bf16 + channels_last only)
#   h200-paper-x4-compile.json   `bench` with torch.compile (the fast mode's default on CUDA)
#   train-small-x2.txt           seconds per step of the shipped models' preset trained on the GPU
#   train-small-x2-workers.txt   the same with 8 DataLoader workers simulating the pairs
#   profile-*.json               where a training step's time goes (benchmarks/profile_training_step.py)
#   log.txt                      everything the steps printed
set -u
OUT=${OUT:?set OUT to the folder for the results}
mkdir -p "$OUT"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 TQDM_DISABLE=1 MPLBACKEND=Agg
PY=${PY:-python3}
LOG=$OUT/log.txt

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log it, never stop the script
    local name=$1 limit=$2; shift 2
    if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return; fi
    local start=$SECONDS
    echo "=== $name (limit ${limit}s): $*" | tee -a "$LOG"
    timeout "$limit" "$@" >>"$LOG" 2>&1
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - start)) s" | tee -a "$LOG"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    $PY -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available(),
torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"
    nproc
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt" | tee -a "$LOG"

step cuda-tests 150 bash -c "$PY -m pytest -q -rs -p no:cacheprovider -m 'not browser' -k 'cuda or gpu' \
    tests/test_bench.py tests/test_color.py tests/test_metrics.py tests/test_model.py \
    tests/test_cli_evaluate_enhance.py >'$OUT/cuda-tests.txt' 2>&1; status=\$?; cat '$OUT/cuda-tests.txt'; exit \$status"

step bench-paper-x4 150 $PY -m lolisr_lib bench --preset paper-x4 --device cuda --compile off \
    --json "$OUT/h200-paper-x4.json"
step bench-paper-x2 120 $PY -m lolisr_lib bench --preset paper-x2 --device cuda --compile off \
    --json "$OUT/h200-paper-x2.json"

# The shipped models' preset on the GPU: 300 steps with validations at 250 (the CPU takes 1.2 s a step).
step train-small-x2 120 bash -c "$PY -m lolisr_lib train --preset small-x2 --device cuda --steps 300 \
    --no-progress --out /tmp/gpu-small-x2 && { cat /tmp/gpu-small-x2/val.csv; tail -n 3 /tmp/gpu-small-x2/log.csv; } \
    >'$OUT/train-small-x2.txt'"

step profile-paper-x4 120 $PY benchmarks/profile_training_step.py --preset paper-x4 --device cuda \
    --json "$OUT/profile-paper-x4.json"
step profile-small-x2 60 $PY benchmarks/profile_training_step.py --preset small-x2 --device cuda \
    --json "$OUT/profile-small-x2.json"
step train-small-x2-workers 90 bash -c "$PY -m lolisr_lib train --preset small-x2 --device cuda --steps 300 \
    --train.num_workers=8 --no-progress --out /tmp/gpu-small-x2-workers && { cat /tmp/gpu-small-x2-workers/val.csv; \
    tail -n 3 /tmp/gpu-small-x2-workers/log.csv; } >'$OUT/train-small-x2-workers.txt'"
step bench-paper-x4-compile 200 $PY -m lolisr_lib bench --preset paper-x4 --device cuda --compile on \
    --json "$OUT/h200-paper-x4-compile.json"
echo "done" | tee -a "$LOG"
