#!/usr/bin/env python3
"""Build the PyTorch module an mlp model file describes, load its weights, and check it
reproduces `mlp predict`.

    python scripts/load_in_pytorch.py MODEL.safetensors [--data ROWS.csv --predictions PRED.csv]

The file's tensors are named as torch.nn.Sequential names a stack of nn.Linear and activation
modules (layer k: "{2k}.weight" of shape [out, in] and "{2k}.bias"), so load_state_dict takes
them unchanged (strict=True). A batch-normalised model ("batch_norm" in the architecture, format
3) has an nn.BatchNorm1d after each hidden nn.Linear, with its weight (γ), bias (β),
running_mean, running_var and num_batches_tracked; the module is put in eval() mode, which
normalises with the running statistics as `mlp predict` does. A layer-normalised model
("layer_norm", format 4) has an nn.LayerNorm there instead, with its weight (γ) and bias (β). The metadata (the "mlp" JSON document in the safetensors header)
gives the architecture and the preprocessing: a text column the model one-hot encodes
("categorical": its sorted categories, and where its indicators sit among the features) becomes
one 0/1 feature per category; a missing value is filled with the stored training mean or median
of its column ("impute"), or gives no indicator in a text column; features are standardised with
the stored training mean and std; regression outputs are mapped back with the stored target mean
and std. A multi-label model's outputs are one probability per label.

With --data (a CSV holding the model's feature columns, by name) and --predictions (the CSV that
`mlp predict --model MODEL --data ROWS.csv --proba` wrote), the script checks that PyTorch predicts
the same classes and probabilities (or values) to 1e-5, and exits 1 if not.

Needs torch (and nothing else): the safetensors header is parsed here, 8 bytes of length and JSON.
"""
import argparse
import csv
import json
import struct
import sys

import torch
from torch import nn


# What mlp reads as a missing value (`MISSING_MARKERS` in src/data/csv.rs: pandas' defaults and "?").
MISSING = {"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>", "#N/A",
           "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND", "?"}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = json.loads(header.pop("__metadata__")["mlp"])
    data = raw[8 + n :]
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64}
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtypes[info["dtype"]])
        tensors[name] = t.reshape(info["shape"])
    return meta, tensors


def activation(name):
    """The nn module for an mlp activation name (as the model file writes it)."""
    arg = None
    if "(" in name:
        name, rest = name.split("(", 1)
        arg = float(rest.rstrip(")"))
    return {
        "identity": lambda: nn.Identity(),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(arg if arg is not None else 0.01),
        "elu": lambda: nn.ELU(arg if arg is not None else 1.0),
        "gelu": lambda: nn.GELU(),  # exact (erf), as mlp's
        "silu": lambda: nn.SiLU(),
        "selu": lambda: nn.SELU(),
        "softplus": lambda: nn.Softplus(),
        "softmax": lambda: nn.Softmax(dim=1),
    }[name]()


def build(meta, tensors):
    arch = meta["architecture"]
    dtype = torch.float64 if meta["precision"] == "f64" else torch.float32
    bn, ln = arch.get("batch_norm"), arch.get("layer_norm")
    modules, inputs = [], arch["inputs"]
    for k, layer in enumerate(arch["layers"]):
        modules.append(nn.Linear(inputs, layer["units"], bias=arch["bias"], dtype=dtype))
        if bn is not None and k + 1 < len(arch["layers"]):
            modules.append(nn.BatchNorm1d(layer["units"], eps=bn["eps"], momentum=bn["momentum"], dtype=dtype))
        if ln is not None and k + 1 < len(arch["layers"]):
            modules.append(nn.LayerNorm(layer["units"], eps=ln["eps"], dtype=dtype))
        modules.append(activation(layer["activation"]))
        inputs = layer["units"]
    model = nn.Sequential(*modules)
    model.load_state_dict(tensors, strict=True)
    return model.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--data", help="CSV rows with the model's feature columns")
    ap.add_argument("--predictions", help="the CSV `mlp predict --proba` wrote for --data")
    args = ap.parse_args()
    meta, tensors = read_safetensors(args.model)
    model = build(meta, tensors)
    print(model)
    if not args.data:
        return 0
    with open(args.data, newline="") as f:
        rows = list(csv.DictReader(f))
    pre = meta["preprocessing"]
    # Feature j: a number column by its name, or indicator i of a one-hot encoded text column.
    columns = [(name, None) for name in meta["feature_names"]]
    for c in pre.get("categorical", []):
        for i, category in enumerate(c["categories"]):
            columns[c["first_feature"] + i] = (c["column"], category)

    fill = pre["impute"]["fill"] if pre.get("impute") else None

    def value(row, j):
        column, category = columns[j]
        text = row[column].strip()
        if text in MISSING:  # no category; a number is filled (mlp refuses it if the model does not)
            return 0.0 if category is not None else fill[j]
        if category is None:
            return float(text)
        return 1.0 if text == category else 0.0

    x = torch.tensor([[value(r, j) for j in range(len(columns))] for r in rows], dtype=torch.float64)
    f64 = torch.float64  # the stored statistics are f64; torch.tensor(list) would round them to f32
    if pre.get("features"):
        x = (x - torch.tensor(pre["features"]["mean"], dtype=f64)) / torch.tensor(pre["features"]["std"], dtype=f64)
    dtype = next(model.parameters()).dtype
    with torch.no_grad():
        y = model(x.to(dtype)).double()
    if meta["task"] == "regression" and pre.get("target"):
        y = y * torch.tensor(pre["target"]["std"], dtype=f64) + torch.tensor(pre["target"]["mean"], dtype=f64)
    if not args.predictions:
        print(y)
        return 0
    with open(args.predictions, newline="") as f:
        theirs = list(csv.DictReader(f))
    worst, mismatched = 0.0, 0
    for i, r in enumerate(theirs):
        if meta["task"] == "multilabel":
            # One sigmoid output per label: predicted where it is > 0.5.
            for j, label in enumerate(meta["class_names"]):
                mismatched += int(r[f"prediction_{label}"]) != int(y[i, j] > 0.5)
                if f"p_{label}" in r:
                    worst = max(worst, abs(float(r[f"p_{label}"]) - float(y[i, j])))
        elif meta["task"] == "classification":
            classes = meta["class_names"]
            probs = y[i] if y.shape[1] > 1 else torch.tensor([1 - y[i, 0], y[i, 0]])
            mismatched += classes[int(torch.argmax(probs))] != r["prediction"]
            for c, p in zip(classes, probs):
                if f"p_{c}" in r:
                    worst = max(worst, abs(float(r[f"p_{c}"]) - float(p)))
        else:
            values = [float(r[k]) for k in r]
            scale = max(1.0, max(abs(v) for v in values))
            worst = max(worst, max(abs(a - float(b)) for a, b in zip(values, y[i])) / scale)
    ok = mismatched == 0 and worst < 1e-5
    print(f"{'OK' if ok else 'MISMATCH'}: PyTorch {torch.__version__} on {len(theirs)} rows: "
          f"{mismatched} different predictions, largest difference {worst:.2e} (relative for values)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
