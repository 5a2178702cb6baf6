"""GPU training and inference throughput: ours against torchvision and timm, same math, same run.

Run where a CUDA GPU is present (torchvision and timm installed beside torch, as on the lent H100):

    PYTHONPATH=src python3 benchmarks/gpu_throughput.py --sections r50-train,r50-infer,cifar --out results.json

Sections:
- ``r50-train``: ResNet-50, batch 256, 224x224, SGD with momentum, bf16 autocast, channels_last; eager and
  ``torch.compile``; ours, torchvision, timm.
- ``r50-infer``: the same models, batch 256, inference mode; eager and compiled.
- ``cifar``: CIFAR ResNet-56 train steps at batch 128 and 512: ours eager against ours with the whole
  step captured as one CUDA graph (``resnets.training.steps.GraphedStep``, what ``resnets train`` uses on
  a GPU).

Timing: warm-up steps, then windows of steps timed with CUDA events; the libraries alternate window by
window and the median window is reported (at least 5 per configuration), with peak memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

import resnets
from resnets.training.steps import GraphedStep


def timed_windows(steps: dict[str, Callable[[], None]], *, windows: int, per_window: int, warmup: int
                  ) -> dict[str, list[float]]:
    """Seconds per step, one list per name, windows alternating between names."""
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    torch.cuda.synchronize()
    out: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(windows):
        for name, fn in steps.items():
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(per_window):
                fn()
            end.record()
            end.synchronize()
            out[name].append(start.elapsed_time(end) / 1000 / per_window)
    return out


def peers_resnet50() -> dict[str, torch.nn.Module]:
    import timm
    import torchvision

    return {
        "ours": resnets.create_model("resnet50"),
        "torchvision": torchvision.models.resnet50(),
        "timm": timm.create_model("resnet50"),
    }


def train_step(model: torch.nn.Module, batch: int, size: int) -> Callable[[], None]:
    model = model.cuda().to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    x = torch.randn(batch, 3, size, size, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 1000, (batch,), device="cuda")

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def infer_step(model: torch.nn.Module, batch: int, size: int) -> Callable[[], None]:
    model = model.cuda().to(memory_format=torch.channels_last).eval()
    x = torch.randn(batch, 3, size, size, device="cuda").contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    return step


def section_r50(kind: str, compiled: bool, windows: int, batch: int = 256) -> list[dict]:
    rows = []
    steps = {}
    compile_seconds = {}
    for name, model in peers_resnet50().items():
        if compiled:
            t = time.perf_counter()
            model = torch.compile(model)
        maker = train_step if kind == "train" else infer_step
        steps[name] = maker(model, batch, 224)
        if compiled:
            steps[name]()
            torch.cuda.synchronize()
            compile_seconds[name] = time.perf_counter() - t
    torch.cuda.reset_peak_memory_stats()
    times = timed_windows(steps, windows=windows, per_window=10, warmup=5)
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"section": f"r50-{kind}", "library": name, "mode": "compiled" if compiled else "eager",
                     "batch": batch, "s_per_step": med, "img_s": batch / med,
                     "compile_s": compile_seconds.get(name), "windows": len(ts)})
    base = next(r for r in rows if r["library"] == "torchvision")
    for r in rows:
        r["vs_torchvision"] = r["img_s"] / base["img_s"]
    rows.append({"section": f"r50-{kind}", "peak_memory_gb_all": torch.cuda.max_memory_allocated() / 1e9})
    return rows


def section_cifar(windows: int) -> list[dict]:
    rows = []
    for batch in (128, 512):
        steps = {}
        for mode in ("eager", "graph"):
            model = resnets.create_model("resnet56").cuda().to(memory_format=torch.channels_last).train()
            opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4,
                                  foreach=True)
            for g in opt.param_groups:
                g["lr_scale"] = 1.0
            x = torch.randn(batch, 3, 32, 32, device="cuda").contiguous(memory_format=torch.channels_last)
            y = torch.randint(0, 10, (batch,), device="cuda")

            def autocast():
                return torch.autocast("cuda", dtype=torch.bfloat16)

            if mode == "graph":
                graphed = GraphedStep(model, opt, lambda out, t: F.cross_entropy(out, t), (x, y), base_lr=0.1,
                                      autocast=autocast)
                steps[f"{mode}-{batch}"] = lambda g=graphed, x=x, y=y: g(x, y, 1.0)
            else:
                def eager(model=model, opt=opt, x=x, y=y) -> None:
                    with autocast():
                        loss = F.cross_entropy(model(x), y)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                steps[f"{mode}-{batch}"] = eager
        times = timed_windows(steps, windows=windows, per_window=20, warmup=10)
        eager_med = statistics.median(times[f"eager-{batch}"])
        for name, ts in times.items():
            med = statistics.median(ts)
            rows.append({"section": "cifar-resnet56-train", "mode": name.split("-")[0], "batch": batch,
                         "ms_per_step": med * 1000, "img_s": batch / med, "speedup_vs_eager": eager_med / med,
                         "windows": len(ts)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default="r50-train,r50-infer,cifar")
    parser.add_argument("--compiled", action="store_true", help="also time torch.compile'd ResNet-50s")
    parser.add_argument("--windows", type=int, default=7)
    parser.add_argument("--out", default="gpu_throughput.json")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
    for section in args.sections.split(","):
        printed = len(result["rows"])
        if section == "cifar":
            result["rows"] += section_cifar(args.windows)
        else:
            kind = section.split("-")[1]
            result["rows"] += section_r50(kind, False, args.windows)
            if args.compiled:
                result["rows"] += section_r50(kind, True, args.windows)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        for row in result["rows"][printed:]:
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
