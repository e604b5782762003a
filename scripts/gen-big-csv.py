#!/usr/bin/env python3
"""Write a large CSV for the memory and load-throughput measurements of issue 5 (not committed).

    python scripts/gen-big-csv.py OUT.csv [MEGABYTES=1000]

50 standard-normal features with 6 decimals, and a 0/1 label (x0 + x1 > 0), seeded; needs numpy.
"""
import sys

import numpy as np

out = sys.argv[1]
target = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
cols, rng, written = 50, np.random.default_rng(1), 0
with open(out, "w") as f:
    f.write(",".join(f"x{i}" for i in range(cols)) + ",y\n")
    while written < target * 1_000_000:
        x = rng.standard_normal((20000, cols))
        y = (x[:, 0] + x[:, 1] > 0).astype(int)
        block = "\n".join(",".join(f"{v:.6f}" for v in row) + f",{t}" for row, t in zip(x, y)) + "\n"
        f.write(block)
        written += len(block)
print(f"{out}: {written / 1e6:.0f} MB")
