#!/usr/bin/env bash
# mlp against its peers on ../shared/bench/PROTOCOL.md, side by side in one run.
#
#   scripts/bench-compare.sh            # REPS=3 runs of each (case, system), interleaved A B A B …
#
# Sets up the peers (../shared/bench/peers/setup.sh: PyTorch and scikit-learn in a venv outside the
# repo), builds mlp, measures this machine's FP32 GEMM peak (numpy/OpenBLAS at 2048³, 2 threads),
# then for each repetition runs every case with every system in turn as a fresh process, each after
# the machine is quiet (1-minute load < MAX_LOAD and < 5 % of a core busy for 3 s). Every record is
# appended to $OUT (JSON lines); the table at the end gives medians [min, max] of seconds per epoch,
# mlp's speed-up over each peer (median against median), GFLOP/s on the protocol's 6·P convention
# and as a share of the FMA peak measured in the same run, peak memory, and the accuracy or MSE
# after the epochs. Contaminated runs (foreign CPU in the timed region) are repeated.
#
# The Rust peers (burn with its flex backend, candle, dfdx: ../shared/bench/peers/rust) are built
# once into RUST_PEERS (about 10 minutes on 2 cores) when SYSTEMS names them. They do not report the
# foreign CPU of their timed region, so only the quiet-machine wait guards their runs.
#
# Environment: PEERS_VENV (default as setup.sh), REPS (3), EPOCHS (1: the timing runs), CASES
# (all three), SYSTEMS (mlp torch torch-fused sklearn burn candle dfdx), MAX_LOAD (1.0),
# RUST_PEERS (~/.cache/mlp-bench/rust-peers), OUT (bench/results/compare-DATE.jsonl).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${SHARED:-$root/../shared}"
peers="$shared/bench/peers"
DATA="${DATA_DIR:-$shared/data}"
PEERS_VENV="${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlp-bench/peers-venv}"
export PEERS_VENV
REPS="${REPS:-3}"
EPOCHS="${EPOCHS:-1}"
CASES="${CASES:-seed-online mnist-mlp-small mnist-mlp-wide}"
SYSTEMS="${SYSTEMS:-mlp torch torch-fused sklearn burn candle dfdx}"
RUST_PEERS="${RUST_PEERS:-${XDG_CACHE_HOME:-$HOME/.cache}/mlp-bench/rust-peers}"
MAX_LOAD="${MAX_LOAD:-1.0}"
mkdir -p "$root/bench/results"
OUT="${OUT:-$root/bench/results/compare-$(date +%Y%m%d-%H%M%S).jsonl}"
PY="$PEERS_VENV/bin/python"

bash "$peers/setup.sh" > /dev/null
(cd "$root" && cargo build --release --quiet)
MLP="$root/target/release/mlp"
if echo " $SYSTEMS " | grep -qE ' (burn|candle|dfdx) '; then
  if [ ! -d "$RUST_PEERS" ]; then
    mkdir -p "$(dirname "$RUST_PEERS")" && cp -r "$peers/rust" "$RUST_PEERS" && chmod -R u+w "$RUST_PEERS"
  fi
  (cd "$RUST_PEERS" && cargo build --release --quiet -p burn-mlp -p candle-mlp \
     && cargo build --release --quiet --manifest-path dfdx-mlp/Cargo.toml)
fi

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
wait_quiet() {
  local waited=0
  while :; do
    local l b0 b1; l=$(cut -d' ' -f1 /proc/loadavg); b0=$(busy); sleep 3; b1=$(busy)
    if [ $((b1 - b0)) -le 15 ] && awk -v l="$l" -v m="$MAX_LOAD" 'BEGIN{exit !(l < m)}'; then return; fi
    if [ "$waited" -ge 600 ]; then echo "# still busy after ${waited}s (load $l), running anyway" >&2; return; fi
    sleep 7; waited=$((waited + 10))
  done
}

echo "# machine: $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu | sed -n 's/^CPU family: *//p'), $(nproc) CPUs, $(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'AVX2, no AVX-512')" | tee "$OUT.md"
wait_quiet
peak=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$shared/bench/machine/gemm_peak.py" --backend numpy --threads 2 2>/dev/null \
  | "$PY" -c 'import json,sys; print(max(json.loads(l)["gflops_best"] for l in sys.stdin if "square" in l))')
# The FMA peak on 2 threads (../shared/bench/machine/fma_peak.c; on a CPU without AVX-512 it does not
# compile, so its AVX2 half alone is built).
fma="${TMPDIR:-/tmp}/fma_peak.$$"
if ! gcc -O2 -march=native -fopenmp "$shared/bench/machine/fma_peak.c" -o "$fma" 2>/dev/null; then
  sed -e 's/^DEF_KERNEL(run512.*$//' -e 's/for (int w = 0; w < 2; w++)/for (int w = 1; w < 2; w++)/' \
      -e 's/(w == 0 ? run512(iters) : run256(iters))/run256(iters)/' "$shared/bench/machine/fma_peak.c" > "$fma.c"
  gcc -O2 -march=native -fopenmp "$fma.c" -o "$fma"
fi
fma_peak=$("$fma" 2 | "$PY" -c 'import json,sys; print(max(json.loads(l)["fma_peak_gflops"] for l in sys.stdin))')
echo "{\"gemm_peak_gflops\": $peak, \"fma_peak_gflops\": $fma_peak}" >> "$OUT"
echo "# FP32 peaks measured now: FMA $fma_peak GFLOP/s ($(grep -q avx512f /proc/cpuinfo && echo zmm || echo ymm), 2 threads); numpy/OpenBLAS GEMM $peak GFLOP/s (2048³, 2 threads)" | tee -a "$OUT.md"

run() {  # run <case> <system> <seed>
  local case=$1 sys=$2 seed=$3 line
  local args=(--case "$case" --data-dir "$DATA" --threads 2 --epochs "$EPOCHS" --seed "$seed")
  case "$sys" in
    mlp) line=$("$MLP" bench "${args[@]}") ;;
    torch) line=$("$PY" "$peers/torch_mlp.py" "${args[@]}" 2>/dev/null | tail -n 1) ;;
    torch-fused) [ "$case" = mnist-mlp-wide ] || return 0
                 line=$("$PY" "$peers/torch_mlp.py" "${args[@]}" --fused-adam 2>/dev/null | tail -n 1) ;;
    sklearn) line=$(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" "$peers/sklearn_mlp.py" "${args[@]}" 2>/dev/null | tail -n 1) ;;
    burn) line=$("$RUST_PEERS/target/release/burn-mlp" --backend flex "${args[@]}" 2>/dev/null | tail -n 1) ;;
    candle) line=$("$RUST_PEERS/target/release/candle-mlp" "${args[@]}" 2>/dev/null | tail -n 1) ;;
    dfdx) line=$("$RUST_PEERS/dfdx-mlp/target/release/dfdx-mlp" "${args[@]}" 2>/dev/null | tail -n 1) ;;
  esac
  [ -n "$line" ] || { echo "# $case $sys: no output" >&2; return 0; }
  # A run whose timed region saw more than 0.05 s + 5 % of foreign CPU is contaminated (PROTOCOL.md §1):
  # logged apart and repeated, up to 3 tries.
  if ! "$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); sys.exit(0 if r.get("foreign_cpu_s", 0.0) <= 0.05 + 0.05 * r["train_seconds"] else 1)' "$line"; then
    echo "$line" >> "${OUT%.jsonl}.contaminated.jsonl"
    if [ "${4:-1}" -lt 3 ]; then wait_quiet; run "$case" "$sys" "$seed" $(( ${4:-1} + 1 )); return 0; fi
  fi
  "$PY" -c 'import json,sys; r=json.loads(sys.argv[1]); r["label"]=sys.argv[2]; print(json.dumps(r))' "$line" "$sys" >> "$OUT"
  echo "$case $sys seed=$seed: $(echo "$line" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print(round(r["seconds_per_epoch"] if "seconds_per_epoch" in r else r["train_seconds"]/r["epochs"],4), "s/epoch, foreign", r.get("foreign_cpu_s"))')" >&2
}

for rep in $(seq 0 $((REPS - 1))); do
  for case in $CASES; do
    for sys in $SYSTEMS; do
      wait_quiet
      run "$case" "$sys" "$rep"
    done
  done
done

"$PY" - "$OUT" <<'PYEOF' | tee -a "$OUT.md"
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
peak = next(r["fma_peak_gflops"] for r in recs if "fma_peak_gflops" in r)
runs = [r for r in recs if "label" in r]
def spe(r): return r.get("seconds_per_epoch", r["train_seconds"] / r["epochs"])
print(f"\n| case | system | runs | s/epoch median [min, max] | mlp speed-up | GFLOP/s (6P) | % of FMA peak | peak RSS MiB | test accuracy / MSE |")
print("|---|---|---|---|---|---|---|---|---|")
for case in ["seed-online", "mnist-mlp-small", "mnist-mlp-wide"]:
    by = {}
    for r in runs:
        if r["case"] == case:
            by.setdefault(r["label"], []).append(r)
    if "mlp" not in by:
        continue
    ours = statistics.median(spe(r) for r in by["mlp"])
    for label in ["mlp", "torch", "torch-fused", "sklearn", "burn", "candle", "dfdx"]:
        rs = by.get(label)
        if not rs:
            continue
        t = [spe(r) for r in rs]
        med = statistics.median(t)
        g = statistics.median(r["achieved_gflops"] for r in rs)
        rss = statistics.median(r["peak_rss_mib"] for r in rs)
        q = [r.get("test_accuracy", r.get("test_mse")) for r in rs]
        qual = ("acc " if "test_accuracy" in rs[0] else "MSE ") + f"{statistics.median(q):.4f}"
        speed = "—" if label == "mlp" else f"{med / ours:.2f}×"
        fmt = (lambda v: f"{v:.4f}") if med < 0.1 else (lambda v: f"{v:.3f}")
        print(f"| {case} | {label} | {len(rs)} | {fmt(med)} [{fmt(min(t))}, {fmt(max(t))}] | {speed} | {g:.3g} | {100 * g / peak:.1f} % | {rss:.0f} | {qual} |")
PYEOF
echo "# records: $OUT" >&2
