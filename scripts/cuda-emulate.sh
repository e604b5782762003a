#!/usr/bin/env bash
# Runs CUDA kernels of src/cuda/kernels.cu on the CPU, through scripts/cuda-emulate/emulate.hpp,
# and checks them against references: the fused forward and backward passes (check_fused.cpp), and
# the end of a step, optimizer, next batch and tally (check_step.cpp), and the layer-by-layer
# kernels with dropout and class weights (check_layers.cpp). Their logic, without a GPU.
# Needs g++ (C++20). Usage: scripts/cuda-emulate.sh
set -euo pipefail
cd "$(dirname "$0")/cuda-emulate"
dir=$(mktemp -d)
for check in check_fused check_step check_layers; do
    g++ -std=c++20 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -pthread -Wall \
        -Wno-unused-function -Wno-unknown-pragmas -Wno-sign-compare -o "$dir/$check" $check.cpp
    "$dir/$check"
done
