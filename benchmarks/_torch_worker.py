"""Timing worker for PyTorch contenders: ours (the `resnets train` step), a plain loop over our model,
torchvision and timm (where installed). See _workers.py for the protocol."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

import resnets
from _workers import serve, timer
from resnets.blocks.layers import set_gemm_convs
from resnets.training.flat_views import FlatViews
from resnets.training.runtime import cpu_has_bf16
from resnets.training.steps import EagerStep

STEPS: dict[str, Any] = {}


def onnx_runner(net: torch.nn.Module, x: torch.Tensor):
    """Our model exported with torch's ONNX exporter, run by ONNX Runtime on the CPU."""
    import tempfile

    import onnxruntime as ort

    path = Path(tempfile.mkdtemp()) / "model.onnx"
    torch.onnx.export(net, (x.contiguous(),), str(path), dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                      external_data=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x.contiguous().numpy()}
    return lambda: session.run(None, feed)


def build(library: str, model: str, classes: int) -> torch.nn.Module:
    if library in ("ours", "plain", "onnx"):
        return resnets.create_model(model, num_classes=classes)
    if library == "torchvision":
        import torchvision

        return getattr(torchvision.models, model)(num_classes=classes)
    if library == "timm":
        import timm

        return timm.create_model(model, num_classes=classes)
    raise ValueError(f"unknown library {library}")


def setup(key: str, library: str, model: str, batch: int, size: int, classes: int = 1000, precision: str = "fp32",
          channels_last: bool = False, compile: bool = False, optimizer: str = "sgd", threads: int = 0,
          mode: str = "train", gemm: bool = True, fold: bool = False) -> dict[str, Any]:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = build(library, model, classes)
    set_gemm_convs(net, gemm and library == "ours")  # the plain loop runs the convolutions of plain PyTorch
    if fold:  # inference as `resnets predict` and `serve` run it on torch: BatchNorm folded into the convolutions
        from resnets.serving.backends import fold_batchnorm

        net = fold_batchnorm(net)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    x = torch.randn(batch, 3, size, size)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,))
    dtype = torch.bfloat16 if precision == "bf16" else None

    def autocast() -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()

    runner = torch.compile(net) if compile else net
    if library == "onnx":
        fn = onnx_runner(net.eval(), x)
    elif mode == "infer":
        net.eval()

        def fn() -> None:
            with torch.inference_mode(), autocast():
                runner(x)
    elif library == "ours":
        opt_cls = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
        kwargs = {"momentum": 0.9} if optimizer == "sgd" else {}
        views = FlatViews([{"params": list(net.parameters())}])
        opt = opt_cls(views.groups, lr=1e-3, fused=True, **kwargs)
        views.attach(opt)
        step = EagerStep(runner, opt, F.cross_entropy, base_lr=1e-3, autocast=autocast)

        def fn() -> None:
            step(x, y, 1.0)
    else:
        opt_cls = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}[optimizer]
        kwargs = {"momentum": 0.9} if optimizer == "sgd" else {}
        opt = opt_cls(net.parameters(), lr=1e-3, **kwargs)

        def fn() -> None:
            with autocast():
                loss = F.cross_entropy(runner(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    fn()
    STEPS[key] = fn
    return {"first_step_s": first}


def versions() -> dict[str, Any]:
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_bf16": cpu_has_bf16()}
    for name in ("torchvision", "timm"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            out[name] = None
    return out


if __name__ == "__main__":
    serve({"setup": setup, "time": timer(STEPS), "versions": versions})
