#!/usr/bin/env python3
"""Prints the markdown table of scripts/gpu-check.sh from its JSON lines (argument: the .jsonl)."""
import json, sys

TARGETS = {  # issue 6: ms per step, fp32 (tf32 where noted)
    "mnist-mlp-small": "≤ 0.04",
    "mnist-mlp-wide": "≤ 0.15",
    "mnist-mlp-wide-b4096": "≤ 0.45",
    "fused-64x4-b65536": "≤ 0.33 (tf32 ≤ 0.15)",
    "wide-2048x4-b8192": "within 5% of torch",
}

BATCH = {"mnist-mlp-small": 64, "mnist-mlp-wide": 128, "mnist-mlp-wide-b4096": 4096,
         "fused-64x4-b65536": 65536, "wide-2048x4-b8192": 8192}

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
steps = {}  # case → (system, mode, dtype, kernels) → ms, at the case's own batch (the first record)
sweep = {}  # (dtype, batch) → fused or layers → ms: the fused-64x4 network by batch, graph
for r in rows:
    if "ms_per_step" not in r:
        continue
    own = r["system"] != "mlp" or r.get("batch") == BATCH.get(r["case"])
    key = (r["system"], r.get("mode"), r.get("dtype"), r.get("kernels", "layers") if r["system"] == "mlp" else None)
    if own:
        steps.setdefault(r["case"], {}).setdefault(key, r["ms_per_step"])
    if r["system"] == "mlp" and r["case"].startswith("fused-") and key[1] == "graph" and key[2] in ("f32", "tf32"):
        sweep.setdefault((key[2], r["batch"]), {})["layers" if key[3] == "layers" else "fused"] = r["ms_per_step"]
device = next((r["device"] for r in rows if "device" in r), "?")
print(f"GPU: {device}\n")
for r in rows:
    if "tests" in r:
        print(f"- tests `{r['tests']}`: {'passed' if r['rc'] == 0 else 'FAILED (rc %s)' % r['rc']}")
print()
print("| case | mlp graph | mlp eager | mlp tf32 | mlp bf16 | mlp layer by layer (f32, tf32) | torch eager | torch graph | torch bf16 graph | torch graph / mlp | target |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
f = lambda v: "—" if v is None else f"{v:.4f}"
for case, t in steps.items():
    # mlp's own choice of kernels: the fused path where it took it, else the layer-by-layer one
    pick = lambda mode, dtype: next((v for (s, m, d, k), v in t.items()
                                     if (s, m, d) == ("mlp", mode, dtype) and k != "layers"),
                                    t.get(("mlp", mode, dtype, "layers")))
    mg, me, mt, mb = pick("graph", "f32"), pick("eager", "f32"), pick("graph", "tf32"), pick("graph", "bf16")
    fused = ("mlp", "graph", "f32", "fused") in t
    lf, lt = t.get(("mlp", "graph", "f32", "layers")), t.get(("mlp", "graph", "tf32", "layers"))
    layered = f"{f(lf)}, {f(lt)}" if fused else "—"
    te = t.get(("torch", "eager", "fp32", None))
    tg = t.get(("torch", "graph", "fp32", None))
    tb = t.get(("torch", "graph", "bf16", None))
    ratio = f"{tg / mg:.2f}×" if mg and tg else "—"
    name = case + (" (fused)" if fused else "")
    print(f"| {name} | {f(mg)} | {f(me)} | {f(mt)} | {f(mb)} | {layered} | {f(te)} | {f(tg)} | {f(tb)} | {ratio} | {TARGETS.get(case, '')} |")
print()
if sweep:
    print("The fused-64x4 network by batch, graph (ms per step):\n")
    print("| products | batch | fused | layer by layer | layers / fused |")
    print("| --- | --- | --- | --- | --- |")
    for dtype, b in sorted(sweep):
        fu, la = sweep[(dtype, b)].get("fused"), sweep[(dtype, b)].get("layers")
        print(f"| {dtype} | {b} | {f(fu)} | {f(la)} | {f'{la / fu:.2f}×' if fu and la else '—'} |")
    print()
for r in rows:
    if r.get("case") == "mnist-mlp-small" and "seconds_per_epoch" in r:
        print(f"- protocol mnist-mlp-small on the GPU: {r['seconds_per_epoch']:.4f} s/epoch, "
              f"test accuracy {r.get('test_accuracy')}")
mn = {r["system"]: r for r in rows if r.get("run") == "mnist-5-epochs"}
if mn:
    parts = []
    for s in ("mlp", "torch"):
        if s in mn:
            r = mn[s]
            acc = r.get("test_accuracy") or (r.get("detail") or {}).get("test_accuracy")
            parts.append(f"{s} {r['wall_seconds']:.2f} s (accuracy {acc}, rc {r['rc']})")
    line = "; ".join(parts)
    if "mlp" in mn and "torch" in mn and mn["mlp"]["wall_seconds"] > 0:
        line += f"; torch / mlp = {mn['torch']['wall_seconds'] / mn['mlp']['wall_seconds']:.2f}×"
    print(f"- full MNIST run (784-128-10, 5 epochs, start to saved model): {line}")
