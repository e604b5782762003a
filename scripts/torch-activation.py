"""PyTorch's protocol script (../shared/bench/peers/torch_mlp.py) with another hidden activation:
the off-protocol variant that `mlp bench --activation A` times. Everything else is the peer's own
code, untouched: this only edits the case table before its main() runs, and for tanh has its
non-ReLU branch build nn.Tanh (or nn.GELU) where it would build nn.Sigmoid.

    $PY scripts/torch-activation.py ACTIVATION PEERS_DIR --case mnist-mlp-small [peer flags...]
"""
import sys

act, peers = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
sys.path.insert(0, peers)
import common  # noqa: E402
import torch_mlp  # noqa: E402

for spec in common.CASE_SPEC.values():
    spec["hidden_act"] = act
if act == "tanh":
    torch_mlp.nn.Sigmoid = torch_mlp.nn.Tanh
elif act == "gelu":
    torch_mlp.nn.Sigmoid = torch_mlp.nn.GELU  # exact (erf), mlp's GELU
elif act not in ("relu", "sigmoid"):
    sys.exit(f"torch-activation.py: {act}: expected relu, sigmoid, tanh or gelu")
torch_mlp.main()
