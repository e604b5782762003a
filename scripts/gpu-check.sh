#!/usr/bin/env bash
# Issue 6's measurement, on a machine with an NVIDIA GPU (no Rust needed there): the CUDA tests,
# then every case of torch_gpu_mlp.py for mlp and for PyTorch on the same GPU in one go, a
# protocol epoch run, and the full MNIST run of each from start to saved model; then a table.
#
# Usage: scripts/gpu-check.sh [DIR]   DIR: what scripts/gpu-prepare.sh made (default .gpu).
# Every record goes to $OUT/gpu-check.jsonl (or ./gpu-check.jsonl); the table is printed last.
set -u
DIR=${1:-.gpu}
OUTDIR=${OUT:-.}
LOG=$OUTDIR/gpu-check.jsonl
: >"$LOG"
STEPS=${STEPS:-200}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv

echo "== CUDA tests (MLP_REQUIRE_CUDA=1: a missing GPU fails rather than skips)"
MLP_REQUIRE_CUDA=1 timeout 300 "$DIR/devices" --test-threads=1 >"$OUTDIR/tests.log" 2>&1
rc_devices=$?
timeout 120 "$DIR/lib" cuda:: >>"$OUTDIR/tests.log" 2>&1
rc_lib=$?
grep -E "^test |test result|panicked|MLP_REQUIRE|differs|skipping" "$OUTDIR/tests.log" | head -40
echo "{\"tests\": \"devices\", \"rc\": $rc_devices}" >>"$LOG"
echo "{\"tests\": \"lib cuda::\", \"rc\": $rc_lib}" >>"$LOG"

echo "== one training step, ms (random data on the GPU, as torch_gpu_mlp.py)"
for c in mnist-mlp-small mnist-mlp-wide mnist-mlp-wide-b4096 fused-64x4-b65536 wide-2048x4-b8192; do
    "$DIR/mlp" bench --device cuda --case "$c" --steps "$STEPS" | tee -a "$LOG"
    MLP_CUDA_GRAPHS=0 "$DIR/mlp" bench --device cuda --case "$c" --steps "$STEPS" | tee -a "$LOG"
    case $c in
    fused-* | wide-*)
        for p in tf32 bf16; do
            "$DIR/mlp" bench --device cuda --case "$c" --steps "$STEPS" --precision $p | tee -a "$LOG"
        done ;;
    esac
    case $c in
    fused-*)  # the layer-by-layer path too, for the fused path's gain
        for p in f32 tf32; do
            MLP_CUDA_FUSED=0 "$DIR/mlp" bench --device cuda --case "$c" --steps "$STEPS" --precision $p | tee -a "$LOG"
        done ;;
    esac
    dtypes=fp32
    case $c in fused-* | wide-*) dtypes=fp32,bf16 ;; esac  # bf16: PyTorch's autocast
    python3 "$DIR/torch_gpu_mlp.py" --cases "$c" --modes eager,graph --dtypes $dtypes --steps "$STEPS" | tee -a "$LOG"
done

echo "== the fused path against the layer-by-layer one, by batch (the fused-64x4 network; sets FUSED_MIN_BATCH)"
for p in f32 tf32; do
    for b in 2048 4096 8192 16384 65536; do
        for f in 1 0; do
            MLP_CUDA_FUSED=$f "$DIR/mlp" bench --device cuda --case fused-64x4-b65536 --batch $b --steps "$STEPS" \
                --precision $p | tee -a "$LOG"
        done
    done
done

echo "== protocol epochs on the GPU (mnist-mlp-small, real MNIST)"
"$DIR/mlp" bench --device cuda --case mnist-mlp-small --epochs 5 --data-dir "$DIR" | tee -a "$LOG"

echo "== full MNIST run, 784-128-10, SGD 0.1, batch 64, 5 epochs: start to saved model"
t0=$(date +%s.%N)
"$DIR/mlp" train --data "$DIR/mnist" --hidden 128 --activation relu --optimizer sgd --lr 0.1 \
    --batch-size 64 --epochs 5 --device cuda --out /tmp/mlp-mnist.safetensors >"$OUTDIR/mnist-mlp.log" 2>&1
rc=$?
t1=$(date +%s.%N)
tail -4 "$OUTDIR/mnist-mlp.log"
acc=$(grep -oE "accuracy [0-9.]+" "$OUTDIR/mnist-mlp.log" | tail -1 | cut -d' ' -f2)
echo "{\"run\": \"mnist-5-epochs\", \"system\": \"mlp\", \"rc\": $rc, \"wall_seconds\": $(awk "BEGIN{print $t1 - $t0}"), \"test_accuracy\": ${acc:-null}}" | tee -a "$LOG"
t0=$(date +%s.%N)
python3 "$DIR/torch_gpu_mnist.py" "$DIR/mnist" /tmp/torch-mnist.safetensors >"$OUTDIR/mnist-torch.log" 2>&1
rc=$?
t1=$(date +%s.%N)
cat "$OUTDIR/mnist-torch.log" | tail -3
line=$(grep '^{' "$OUTDIR/mnist-torch.log" | tail -1)
echo "{\"run\": \"mnist-5-epochs\", \"system\": \"torch\", \"rc\": $rc, \"wall_seconds\": $(awk "BEGIN{print $t1 - $t0}"), \"detail\": ${line:-null}}" | tee -a "$LOG"

# Per-kernel times, on by default (NCU=0 skips them): where the fused step's time goes, kernel by
# kernel, in f32 and TF32, and the small case's launches.
if [ "${NCU:-1}" = 1 ] && command -v ncu >/dev/null; then
    echo "== per-kernel times (ncu, launched one by one)"
    for run in "mnist-mlp-small f32" "fused-64x4-b65536 f32" "fused-64x4-b65536 tf32"; do
        set -- $run
        MLP_CUDA_GRAPHS=0 timeout 120 ncu --launch-skip 40 --launch-count 30 --metrics gpu__time_duration.sum \
            --csv "$DIR/mlp" bench --device cuda --case "$1" --steps 4 --precision "$2" >"$OUTDIR/ncu-$1-$2.csv" 2>&1
        echo "-- $1 $2"
        grep -E '"gpu__time_duration.sum"' "$OUTDIR/ncu-$1-$2.csv" | awk -F'","' '{print $5 " | " $NF}' | cut -c1-110
    done
fi

echo "== table"
python3 "$DIR/gpu_table.py" "$LOG" | tee "$OUTDIR/gpu-table.md"
