"""CPU training step time: ours against the course's Keras model, a plain PyTorch loop, torchvision and timm.

    python benchmarks/cpu_train.py --suite course --keras-python /work/peers/tf-venv/bin/python
    /work/peers/tv-venv/bin/python benchmarks/cpu_train.py --suite imagenet
    python benchmarks/cpu_train.py --suite cifar

Each contender lives in its own worker process (built once); the contenders alternate window by window,
``--repeats`` times (at least 5), and the median seconds per step is reported with ratios against a
baseline from the same run. Suites:

- ``course``: the course's ResNet50 on SIGNS-sized batches (64x64x3, 6 classes, Adam/AdamW): the course's
  own Keras model on TensorFlow (fp32 as the course runs it, and mixed bf16), a plain PyTorch loop over
  our ``resnet50_course`` (fp32 NCHW; bf16 autocast + channels_last), and ours: the step ``resnets train``
  runs (fused optimizer; fp32, bf16 + channels_last, and compiled), at batch 32 and 128.
- ``cifar``: CIFAR ResNet-20, batch 128, Nesterov SGD (the ``fast`` recipe's step): ours against the plain
  PyTorch loop of ``../shared/notes/reference-runs.md``, in each precision the CPU runs natively.
- ``imagenet``: ResNet-18 and ResNet-50 at 224x224, batch 16, SGD: ours, torchvision, timm (which need the
  peers' venv: run this script with its python), fp32 NCHW and bf16 + channels_last.

Writes JSON to ``benchmarks/results/`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _workers import HERE, Worker, machine, median


def course_contenders(batch: int, with_keras: bool, compiled: bool, bf16: bool) -> list[dict]:
    """bf16 rows only where the CPU runs bf16 natively (elsewhere it is emulated, 10x slower or worse)."""
    common = dict(model="resnet50_course", batch=batch, size=64, classes=6, optimizer="adamw")
    precisions = ("fp32", "bf16") if bf16 else ("fp32",)
    rows = []
    if with_keras:
        rows += [dict(worker="keras", label=f"Keras/TF {p} b{batch}", batch=batch, precision=p) for p in precisions]
    rows.append(dict(worker="torch", library="plain", label=f"plain PyTorch fp32 b{batch}", **common))
    for p in precisions:
        rows.append(dict(worker="torch", library="plain", label=f"plain PyTorch {p}+CL b{batch}", precision=p,
                         channels_last=True, **common))
    for p in precisions:
        rows.append(dict(worker="torch", library="ours", label=f"ours {p}+CL b{batch}", precision=p,
                         channels_last=True, **common))
    rows.append(dict(worker="torch", library="ours", label=f"ours {precisions[-1]}+CL oneDNN convs b{batch}",
                     precision=precisions[-1], channels_last=True, gemm=False, **common))
    if compiled:
        best = precisions[-1]
        rows.append(dict(worker="torch", library="ours", label=f"ours {best}+CL compiled b{batch}", precision=best,
                         channels_last=True, compile=True, **common))
    return rows


def cifar_contenders(bf16: bool) -> list[dict]:
    common = dict(model="resnet20", batch=128, size=32, classes=10, optimizer="sgd", channels_last=True)
    rows = []
    for p in ("fp32", "bf16") if bf16 else ("fp32",):
        rows += [dict(worker="torch", library="plain", label=f"plain PyTorch resnet20 {p}+CL b128", precision=p,
                      **common),
                 dict(worker="torch", library="ours", label=f"ours resnet20 {p}+CL b128", precision=p, **common)]
    return rows


def imagenet_contenders(model: str, batch: int) -> list[dict]:
    rows = []
    for precision, cl in (("fp32", False), ("bf16", True)):
        for library in ("ours", "torchvision", "timm"):
            rows.append(dict(worker="torch", library=library, model=model, batch=batch, size=224, classes=1000,
                             precision=precision, channels_last=cl, optimizer="sgd",
                             label=f"{library} {model} {precision}{'+CL' if cl else ''} b{batch}"))
    return rows


def run(contenders: list[dict], workers: dict[str, Worker], repeats: int, steps: int) -> list[dict]:
    for i, c in enumerate(contenders):
        c["key"] = f"c{i}"
        args = {k: v for k, v in c.items() if k not in ("worker", "label")}
        started = time.perf_counter()
        c.update(workers[c["worker"]].ask(cmd="setup", **args))
        c["setup_s"] = time.perf_counter() - started
        print(f"ready: {c['label']} (first step {c['first_step_s']:.2f} s)", flush=True)
    samples: dict[str, list[float]] = {c["key"]: [] for c in contenders}
    for r in range(repeats):
        for c in contenders:
            samples[c["key"]].append(workers[c["worker"]].ask(cmd="time", key=c["key"], steps=steps)["seconds"])
        print(f"repeat {r + 1}/{repeats} done", flush=True)
    for c in contenders:
        c["samples_s"] = samples[c["key"]]
        c["median_s"] = median(samples[c["key"]])
    return contenders


def best_of(rows: list[dict], prefix: str) -> str:
    """The label of the fastest contender whose label starts with ``prefix``."""
    return min((r for r in rows if r["label"].startswith(prefix)), key=lambda r: r["median_s"])["label"]


def table(rows: list[dict], baseline: str) -> None:
    base = next((r["median_s"] for r in rows if r["label"] == baseline), None)
    print(f"\n{'contender':44s} {'s/step':>8s} {'img/s':>8s} {'vs ' + baseline[:24]:>30s}")
    for r in rows:
        ratio = f"{base / r['median_s']:.2f}x" if base else "-"
        print(f"{r['label']:44s} {r['median_s']:8.3f} {r['batch'] / r['median_s']:8.1f} {ratio:>30s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("course", "cifar", "imagenet"), default="course")
    parser.add_argument("--keras-python", default="/work/peers/tf-venv/bin/python")
    parser.add_argument("--batches", default="32,128")
    parser.add_argument("--models", default="resnet18,resnet50")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per timed window")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    workers = {"torch": Worker("torch", sys.executable, "_torch_worker.py")}
    report = {"suite": args.suite, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"),
              "torch_worker": workers["torch"].ask(cmd="versions")}
    try:
        results = []
        if args.suite == "course":
            keras_ok = Path(args.keras_python).exists()
            if keras_ok:
                workers["keras"] = Worker("keras", args.keras_python, "_keras_worker.py",
                                          env={"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"})
                report["keras_worker"] = workers["keras"].ask(cmd="versions")
            for batch in map(int, args.batches.split(",")):
                rows = run(course_contenders(batch, keras_ok, not args.no_compile,
                                             report["torch_worker"]["cpu_bf16"]), workers,
                           args.repeats, args.steps)
                if keras_ok:
                    table(rows, best_of(rows, "Keras/TF"))
                table(rows, best_of(rows, "plain PyTorch"))
                results += rows
        elif args.suite == "cifar":
            results = run(cifar_contenders(report["torch_worker"]["cpu_bf16"]), workers, args.repeats, args.steps)
            table(results, best_of(results, "plain PyTorch"))
        else:
            for model in args.models.split(","):
                rows = run(imagenet_contenders(model, 16), workers, args.repeats, args.steps)
                table(rows, f"torchvision {model} fp32 b16")
                table(rows, f"torchvision {model} bf16+CL b16")
                results += rows
        report["rows"] = results
    finally:
        for w in workers.values():
            w.close()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cpu_train_{args.suite}_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
