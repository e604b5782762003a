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

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
steps = {}
for r in rows:
    if "ms_per_step" in r:
        key = (r["system"], r.get("mode"), r.get("dtype"))
        steps.setdefault(r["case"], {})[key] = r["ms_per_step"]
device = next((r["device"] for r in rows if "device" in r), "?")
print(f"GPU: {device}\n")
for r in rows:
    if "tests" in r:
        print(f"- tests `{r['tests']}`: {'passed' if r['rc'] == 0 else 'FAILED (rc %s)' % r['rc']}")
print()
print("| case | mlp graph | mlp eager | mlp tf32 | torch eager | torch graph | torch graph / mlp | target |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
f = lambda v: "—" if v is None else f"{v:.4f}"
for case, t in steps.items():
    mg = t.get(("mlp", "graph", "f32"))
    me = t.get(("mlp", "eager", "f32"))
    mt = t.get(("mlp", "graph", "tf32"))
    te = t.get(("torch", "eager", "fp32"))
    tg = t.get(("torch", "graph", "fp32"))
    ratio = f"{tg / mg:.2f}×" if mg and tg else "—"
    print(f"| {case} | {f(mg)} | {f(me)} | {f(mt)} | {f(te)} | {f(tg)} | {ratio} | {TARGETS.get(case, '')} |")
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
