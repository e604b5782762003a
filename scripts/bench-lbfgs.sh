#!/usr/bin/env bash
# mlp's L-BFGS against scikit-learn's MLPClassifier(solver="lbfgs") on digits, side by side.
#
#   scripts/bench-lbfgs.sh              # REPS=3 runs of each system, interleaved A B A B …
#
# Not a protocol case (../shared/bench/PROTOCOL.md has no full-batch solver): the same 80/20 split
# of data/digits.csv (split.py, fixed seed) for both, features standardised with the training
# rows' statistics, 64-128-10 ReLU/softmax, the same objective — mean cross-entropy + λ/2·‖W‖² with
# λ = 0.001 (scikit-learn's alpha = λ·n, as it divides by the rows) — up to 200 iterations, 2
# threads, seeds 0, 1, 2. Each system stops by its own tolerances (scikit-learn's tol = 1e-4 on the
# gradient, mlp's PyTorch-like 1e-7 and 1e-9), so the table gives iterations and time per
# iteration too; mlp also runs with --tol 1e-4, scikit-learn's rule. Timed: scikit-learn's fit(); mlp's training epochs (the --log's seconds), each
# a fresh process after the machine is quiet (1-minute load < 1 and < 5 % of a core busy for 3 s).
# One JSON line per run on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEERS_VENV="${PEERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mlp-bench/peers-venv}"
PY="$PEERS_VENV/bin/python"
REPS="${REPS:-3}"
(cd "$root" && cargo build --release --quiet)
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
wait_quiet() {
    local waited=0
    while :; do
        local l b0 b1; l=$(cut -d' ' -f1 /proc/loadavg); b0=$(busy); sleep 3; b1=$(busy)
        if [ $((b1 - b0)) -le 15 ] && awk -v l="$l" 'BEGIN{exit !(l < 1.0)}'; then return; fi
        if [ "$waited" -ge 600 ]; then echo "# still busy after ${waited}s, running anyway" >&2; return; fi
        sleep 7; waited=$((waited + 10))
    done
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
"$PY" "$root/scripts/lbfgs/split.py" "$root/data/digits.csv"
for ((s = 0; s < REPS; s++)); do
    wait_quiet
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$PY" -W ignore "$root/scripts/lbfgs/sklearn_lbfgs.py" "$s"
    for tol in default 1e-4; do
        rm -f log.jsonl
        wait_quiet
        flag=(); [ "$tol" = default ] || flag=(--tol "$tol")
        "$root/target/release/mlp" train --data train.csv --test test.csv --hidden 128 \
            --optimizer lbfgs --weight-decay 0.001 --epochs 200 "${flag[@]}" --seed "$s" \
            --threads 2 --log log.jsonl --format json --out model.safetensors > out.json
        "$PY" -c "
import json
log = [json.loads(l) for l in open('log.jsonl')]
out = json.load(open('out.json'))
print(json.dumps(dict(system='mlp', tol='$tol', seed=$s, seconds=sum(e['seconds'] for e in log),
                      iterations=len(log), test_accuracy=out['test_accuracy'])))"
    done
done
