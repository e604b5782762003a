#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh runs, into .gpu/, on a machine with Rust (the GPU machine may
# have none): mlp and the test binaries with the `cuda` feature, the MNIST files, and PyTorch's GPU
# reference script. Usage: scripts/gpu-prepare.sh [SHARED] (default ../shared).
set -euo pipefail
SHARED=${1:-../shared}
cd "$(dirname "$0")/.."
cargo build --release --features cuda
mkdir -p .gpu/mnist
cp target/release/mlp .gpu/mlp
# The test binaries: `devices` (tests/devices.rs) and the library's unit tests (NVRTC compile check).
cargo test --release --features cuda --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, shutil, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    t = m["target"]
    if t["name"] == "devices":
        shutil.copy(m["executable"], ".gpu/devices")
    elif t["kind"] == ["lib"]:
        shutil.copy(m["executable"], ".gpu/lib")
'
strip .gpu/mlp .gpu/devices .gpu/lib
cp "$SHARED"/data/mnist/*.gz .gpu/mnist/
cp "$SHARED"/bench/peers/torch_gpu_mlp.py .gpu/
cp scripts/torch_gpu_mnist.py scripts/gpu_table.py .gpu/
du -sh .gpu
