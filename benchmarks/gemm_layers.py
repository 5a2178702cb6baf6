"""Single convolutions on the CPU: oneDNN (``F.conv2d``) against the matrix-multiply form of
``resnets.blocks.gemm``, and whether ``gemm_wins`` sends each layer to the faster one.

    python benchmarks/gemm_layers.py [--repeats 7] [--calls 10]

For each layer and precision (bf16 autocast where the CPU has it, fp32), batch 32 and 128 for training
(forward + backward) and batch 1 and 32 for inference (forward under ``inference_mode``), channels-last: the
two forms alternate, ``--repeats`` windows of ``--calls`` calls each, and the median ms per call is printed with
the ratio oneDNN / matmul (above 1: the matmul is faster). Writes JSON to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time

import torch
import torch.nn.functional as F

from _workers import HERE, machine
from resnets.blocks.gemm import conv2d_gemm, gemm_wins
from resnets.training.runtime import cpu_has_bf16

# (in channels, map size, out channels, kernel, stride): the course ResNet50's last stages, ResNet-50's last
# projection at 224px, and layers the rule leaves on oneDNN.
LAYERS = [
    (512, 2, 512, 3, 1), (256, 4, 256, 3, 1), (2048, 2, 512, 1, 1), (512, 2, 2048, 1, 1),
    (1024, 4, 256, 1, 1), (1024, 4, 2048, 1, 2), (512, 8, 1024, 1, 2), (1024, 14, 2048, 1, 2),
    (128, 8, 128, 3, 1), (64, 15, 64, 3, 1), (256, 8, 256, 3, 1), (64, 8, 256, 1, 1),
]


def _window(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e3


def case(layer: tuple, batch: int, dtype: torch.dtype | None, train: bool, repeats: int, calls: int) -> dict:
    c, size, k, kernel, stride = layer
    pad = kernel // 2
    x = torch.randn(batch, c, size, size).contiguous(memory_format=torch.channels_last).requires_grad_(train)
    w = (torch.randn(k, c, kernel, kernel) * 0.05).contiguous(memory_format=torch.channels_last)
    w.requires_grad_(train)

    def step(conv):
        def fn() -> None:
            grad = contextlib.nullcontext() if train else torch.inference_mode()
            cast = torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()
            with grad, cast:
                y = conv(x, w, None, (stride, stride), (pad, pad))
            if train:
                y.backward(torch.ones_like(y))
        return fn

    onednn, matmul = step(F.conv2d), step(conv2d_gemm)
    for fn in (onednn, matmul):
        fn(), fn()
    a, b = [], []
    for _ in range(repeats):
        a.append(_window(onednn, calls))
        b.append(_window(matmul, calls))
    out = (size + 2 * pad - kernel) // stride + 1
    return {"layer": list(layer), "batch": batch, "precision": "bf16" if dtype else "fp32", "train": train,
            "onednn_ms": statistics.median(a), "matmul_ms": statistics.median(b),
            "rule_takes_matmul": gemm_wins(c, (kernel, kernel), (stride, stride), out * out, batch=batch,
                                           backward=train)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    dtypes = [torch.bfloat16, None] if cpu_has_bf16() else [None]
    rows = []
    print(f"{'mode':6s} {'prec':5s} {'batch':>5s} {'layer (in, map, out, kernel, stride)':38s} "
          f"{'oneDNN ms':>10s} {'matmul ms':>10s} {'ratio':>7s}  rule")
    for train, batches in ((True, (32, 128)), (False, (1, 32))):
        for dtype in dtypes:
            for batch in batches:
                for layer in LAYERS:
                    r = case(layer, batch, dtype, train, args.repeats, args.calls)
                    rows.append(r)
                    ratio = r["onednn_ms"] / r["matmul_ms"]
                    print(f"{'train' if train else 'infer':6s} {r['precision']:5s} {batch:5d} {layer!s:38s} "
                          f"{r['onednn_ms']:10.3f} {r['matmul_ms']:10.3f} {ratio:6.2f}x  "
                          f"{'matmul' if r['rule_takes_matmul'] else 'oneDNN'}", flush=True)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    path = results / f"gemm_layers_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                                "rows": rows}, indent=1))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
