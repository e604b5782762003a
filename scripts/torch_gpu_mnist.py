#!/usr/bin/env python3
"""PyTorch's side of the full MNIST run on a GPU (issue 6), the same run as

    mlp train --data DIR --hidden 128 --activation relu --optimizer sgd --lr 0.1 \
              --batch-size 64 --epochs 5 --device cuda --out model.safetensors

784-128-10, ReLU, softmax cross-entropy, SGD lr 0.1, batch 64, 5 epochs, pixels scaled to [0, 1],
the training set on the GPU, reshuffled every epoch; then test accuracy, and the model saved as
safetensors. Usage: torch_gpu_mnist.py MNIST_DIR OUT_FILE. Prints one JSON line; the wall time from
start to saved model is measured around the whole process by scripts/gpu-check.sh.
"""
import gzip, json, os, sys, time

t_start = time.perf_counter()
import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import save_file


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    d, out = sys.argv[1], sys.argv[2]
    dev = torch.device("cuda")
    x = torch.tensor(idx(os.path.join(d, "train-images-idx3-ubyte.gz")).reshape(-1, 784), device=dev).float() / 255
    y = torch.tensor(idx(os.path.join(d, "train-labels-idx1-ubyte.gz")), device=dev).long()
    xt = torch.tensor(idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784), device=dev).float() / 255
    yt = torch.tensor(idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")), device=dev).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    torch.cuda.synchronize()
    t_train = time.perf_counter()
    for _ in range(5):
        perm = torch.randperm(len(x), device=dev)
        for i in range(0, len(x), 64):
            idx_b = perm[i:i + 64]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx_b]), y[idx_b])
            loss.backward()
            opt.step()
    torch.cuda.synchronize()
    train_s = time.perf_counter() - t_train
    with torch.no_grad():
        acc = (model(xt).argmax(1) == yt).float().mean().item()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    print(json.dumps({"run": "mnist-5-epochs", "system": "torch", "train_seconds": round(train_s, 3),
                      "in_process_seconds": round(time.perf_counter() - t_start, 3),
                      "test_accuracy": round(acc, 4), "device": torch.cuda.get_device_name()}), flush=True)


if __name__ == "__main__":
    main()
