"""scikit-learn's MLPClassifier(solver="lbfgs") on train.csv/test.csv here (split.py): one JSON
line with the fit's seconds, its iterations and the test accuracy. argv[1]: the seed."""
import json
import sys
import time

import numpy as np
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

seed = int(sys.argv[1])
tr = np.loadtxt("train.csv", delimiter=",", skiprows=1, dtype=np.float32)
te = np.loadtxt("test.csv", delimiter=",", skiprows=1, dtype=np.float32)
sc = StandardScaler().fit(tr[:, :-1])
x, y = sc.transform(tr[:, :-1]).astype(np.float32), tr[:, -1].astype(int)
xt, yt = sc.transform(te[:, :-1]).astype(np.float32), te[:, -1].astype(int)
# scikit-learn's penalty is alpha/(2n)·‖W‖²: alpha = λ·n for mlp's λ/2·‖W‖².
m = MLPClassifier(hidden_layer_sizes=(128,), solver="lbfgs", alpha=0.001 * len(x),
                  max_iter=200, random_state=seed)
with threadpool_limits(2):
    t0 = time.perf_counter()
    m.fit(x, y)
    t = time.perf_counter() - t0
acc = float((m.predict(xt) == yt).mean())
print(json.dumps(dict(system="sklearn", seed=seed, seconds=t, iterations=int(m.n_iter_),
                      test_accuracy=acc)))
