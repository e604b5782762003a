"""Splits digits.csv (argv[1]) 80/20 with a fixed seed into train.csv and test.csv here."""
import sys

import numpy as np

d = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1)
hdr = open(sys.argv[1]).readline().strip()
idx = np.random.default_rng(0).permutation(len(d))
cut = int(0.8 * len(d))
for name, rows in [("train", idx[:cut]), ("test", idx[cut:])]:
    np.savetxt(f"{name}.csv", d[rows], delimiter=",", header=hdr, comments="", fmt="%g")
