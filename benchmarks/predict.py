"""``resnets predict``'s backends: where ONNX Runtime repays its export, which sets ``auto``'s threshold.

    .venv/bin/python benchmarks/predict.py [--models resnet20:32,resnet50_course:64,resnet50:224]

For each model (random weights, saved as a checkpoint): the start cost of each backend (torch: build the
model and fold its BatchNorms; onnx: export with the dynamo exporter, check, and open an ONNX Runtime
session), then seconds per image at batch ``--batch`` for torch, torch without BatchNorm folding and ONNX
Runtime, taking turns window by window in a rotating order (ONNX Runtime's threads spin for a while
after a run and slow whatever runs next), medians of ``--repeats`` windows. The break-even is the number of
images after which ONNX Runtime's lower per-image time has paid for its larger start; times the model's
GMACs per image, it is the work ``auto`` compares with ``resnets.serving.backends.AUTO_ONNX_MIN_GMACS``.
JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from resnets.data import Preprocessing
from resnets.models import create_model
from resnets.serving.backends import AUTO_ONNX_MIN_GMACS, OnnxBackend, TorchBackend, gmacs_per_image
from resnets.training import load_checkpoint, save_checkpoint

HERE = Path(__file__).resolve().parent


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def measure(name: str, size: int, batch: int, repeats: int, windows: int, tmp: Path) -> dict:
    model = create_model(name)
    path = save_checkpoint(tmp / f"{name}.safetensors", model, classes=[str(i) for i in range(model.spec.head.classes)],
                           preprocessing=Preprocessing((size, size)))
    ckpt = load_checkpoint(path)
    gmacs = gmacs_per_image(ckpt)
    torch_backend, torch_start = timed(TorchBackend, ckpt, device="cpu")
    unfolded = TorchBackend(ckpt, device="cpu", fold_bn=False)
    onnx_backend, onnx_start = timed(OnnxBackend, ckpt)
    x = torch.randn(batch, model.spec.in_chans, size, size)
    torch.testing.assert_close(onnx_backend(x), torch_backend(x), atol=1e-4, rtol=1e-3)
    contenders = {"torch": torch_backend, "torch_unfolded": unfolded, "onnx": onnx_backend}
    per_image: dict[str, list[float]] = {label: [] for label in contenders}
    labels = list(contenders)
    for repeat in range(repeats):  # the order rotates: ONNX Runtime's threads spin on after a run
        for label in labels[repeat % 3:] + labels[:repeat % 3]:
            backend = contenders[label]
            start = time.perf_counter()
            for _ in range(windows):
                backend(x)
            per_image[label].append((time.perf_counter() - start) / (windows * batch))
    t, u, o = (statistics.median(per_image[k]) for k in contenders)
    saving = t - o
    extra_start = onnx_start - torch_start
    images = extra_start / saving if saving > 0 else float("inf")
    return {"model": name, "size": size, "batch": batch, "gmacs_per_image": gmacs,
            "start_s": {"torch": torch_start, "onnx": onnx_start},
            "per_image_s": {"torch": t, "torch_unfolded": u, "onnx": o}, "fold_speedup": u / t,
            "onnx_speedup": t / o,
            "break_even_images": images, "break_even_gmacs": images * gmacs, "windows_s": per_image}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet20:32,resnet50_course:64,resnet50:224")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--windows", type=int, default=2, help="model calls per timed window")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for item in args.models.split(","):
            name, size = item.split(":")
            rows.append(measure(name, int(size), args.batch, args.repeats, args.windows, Path(tmp)))
            r = rows[-1]
            ms = {k: 1e3 * v for k, v in r["per_image_s"].items()}
            print(f"{name:>16} {size:>3}px  {r['gmacs_per_image']:7.3f} GMACs  start torch "
                  f"{r['start_s']['torch']:5.2f} s onnx {r['start_s']['onnx']:5.2f} s  per image torch "
                  f"{ms['torch']:7.2f} ms (unfolded {ms['torch_unfolded']:.2f}) onnx {ms['onnx']:7.2f} ms "
                  f"({r['onnx_speedup']:.2f}x)  break-even {r['break_even_images']:8.0f} images = "
                  f"{r['break_even_gmacs']:7.1f} GMACs", flush=True)
    print(f"auto's threshold now: {AUTO_ONNX_MIN_GMACS:g} GMACs")
    report = {"date": time.strftime("%Y-%m-%d %H:%M"), "threads": torch.get_num_threads(),
              "torch": torch.__version__, "threshold_gmacs": AUTO_ONNX_MIN_GMACS, "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"predict-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
