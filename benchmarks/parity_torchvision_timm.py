"""Parity with the real torchvision and timm models: their weights, saved as they save them, loaded into ours.

Outside CI (torchvision and timm do not install next to the CPU torch the project pins); run it in a venv
that has them, e.g.::

    PYTHONPATH=src /work/peers/tv-venv/bin/python benchmarks/parity_torchvision_timm.py

For each source model: random weights with non-trivial BatchNorm affine parameters and running statistics,
saved with ``torch.save(model.state_dict())`` (and as safetensors for timm), read back through
``resnets.create_model(name, weights=PATH)`` (format detection, ``weights_only`` loading, strict keys) and
through ``load_weights_file(None, PATH)`` (which zoo model the file is), then both run in eval mode on one
random batch. Prints the max |ours - theirs| per model and writes the figures as JSON to
``benchmarks/results/parity_torchvision_timm.json``.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import safetensors.torch
import timm
import torch
import torchvision
from torch import nn

import resnets
from resnets.interop import load_weights_file

RESULTS = Path(__file__).resolve().parent / "results" / "parity_torchvision_timm.json"
BATCH = (2, 3, 224, 224)

CASES: list[tuple[str, str, Callable[[], nn.Module], str]] = [
    ("torchvision", "resnet18", lambda: torchvision.models.resnet18(), "pth"),
    ("torchvision", "resnet50", lambda: torchvision.models.resnet50(), "pth"),
    ("torchvision", "wide_resnet50_2", lambda: torchvision.models.wide_resnet50_2(), "pth"),
    ("torchvision", "resnext50_32x4d", lambda: torchvision.models.resnext50_32x4d(), "pth"),
    ("torchvision", "googlenet_bn", lambda: torchvision.models.googlenet(aux_logits=False, init_weights=True), "pth"),
    ("torchvision", "googlenet_bn", lambda: torchvision.models.googlenet(aux_logits=True, init_weights=True), "pth"),
    ("timm", "resnet50", lambda: timm.create_model("resnet50", pretrained=False), "pth"),
    ("timm", "resnet50", lambda: timm.create_model("resnet50", pretrained=False), "safetensors"),
]


def perturb_norms(model: nn.Module, seed: int) -> None:
    """BatchNorm weights, biases and running statistics away from 1/0, so a misplaced tensor shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)


def run_case(source: str, ours: str, build: Callable[[], nn.Module], fmt: str, folder: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    theirs = build().eval()
    perturb_norms(theirs, seed)
    path = folder / f"{source}_{seed}.{fmt}"
    state = theirs.state_dict()
    if fmt == "safetensors":
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)
    started = time.perf_counter()
    model = resnets.create_model(ours, weights=path).eval()
    load_s = time.perf_counter() - started
    detected = load_weights_file(None, path)
    x = torch.randn(*BATCH, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected, got = theirs(x), model(x)
    return {
        "source": source,
        "source_model": type(theirs).__name__ if source == "torchvision" else f"timm {ours}",
        "aux_logits": bool(getattr(theirs, "aux_logits", False)),
        "file": fmt,
        "resnets_model": ours,
        "detected_model": detected.spec.name,
        "notes": detected.config["source"]["notes"],
        "tensors": len(state),
        "max_abs_diff": float((got - expected).abs().max()),
        "max_abs_output": float(expected.abs().max()),
        "load_seconds": round(load_s, 3),
    }


def main() -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (source, ours, build, fmt) in enumerate(CASES):
            rows.append(run_case(source, ours, build, fmt, Path(tmp), seed))
            r = rows[-1]
            aux = " (aux heads in file)" if r["aux_logits"] else ""
            print(f"{source:11s} {r['source_model']:16s} {fmt:11s} -> {ours:16s} detected {r['detected_model']:16s} "
                  f"max|diff| {r['max_abs_diff']:.3e} (outputs up to {r['max_abs_output']:.2f}){aux}")
    report = {
        "command": "PYTHONPATH=src python benchmarks/parity_torchvision_timm.py",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__, "timm": timm.__version__,
                     "resnets": resnets.__version__},
        "batch": list(BATCH),
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
