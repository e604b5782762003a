#!/usr/bin/env bash
# Runs the fused CUDA kernels (src/cuda/kernels.cu) on the CPU, through scripts/cuda-emulate/
# emulate.hpp, and checks them against an f64 reference: their logic, checked without a GPU.
# Needs g++ (C++20). Usage: scripts/cuda-emulate.sh
set -euo pipefail
cd "$(dirname "$0")/cuda-emulate"
bin=$(mktemp -d)/check_fused
g++ -std=c++20 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -pthread -Wall -Wno-unused-function -Wno-unknown-pragmas -Wno-sign-compare -Wno-maybe-uninitialized -o "$bin" check_fused.cpp
"$bin"
