"""Data-path throughput against what the model consumes, so the loader is never the unseen bottleneck.

    .venv/bin/python benchmarks/data.py [--data-root ../shared/data]

For each source (the embedded shapes, SIGNS, CIFAR-10 npz, an image folder decoded by 0 and 2 workers)
it times one training epoch of batches (augmentation and normalisation included, no model) and one
training step of the model a recipe pairs with it (in the precision ``resnets train`` picks here), and
prints loader img/s, model img/s and their ratio (above 1: the loader keeps up).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import resnets
from _workers import HERE, machine
from resnets.data import Augment, Batches, load_data
from resnets.training.runtime import Runtime, pick_precision
from resnets.training.steps import EagerStep


def loader_rate(split, pre, batch: int, workers: int, max_batches: int = 60) -> float:
    batches = Batches(split, batch_size=batch, preprocessing=pre, shuffle=True, drop_last=True, workers=workers,
                      augment=Augment(pad=4, flip=True), channels_last=True)
    seen, start = 0, time.perf_counter()
    for i, (x, _) in enumerate(batches):
        seen += x.shape[0]
        if i + 1 >= max_batches:
            break
    return seen / (time.perf_counter() - start)


def model_rate(name: str, size: tuple[int, int, int], classes: int, batch: int, steps: int = 4) -> float:
    model = resnets.create_model(name, num_classes=classes, input_size=size).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    cpu = torch.device("cpu")
    runtime = Runtime(cpu, pick_precision("auto", cpu))
    step = EagerStep(model, opt, F.cross_entropy, base_lr=0.01, autocast=runtime.autocast)
    x = torch.randn(batch, *size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, classes, (batch,))
    step(x, y, 1.0)
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y, 1.0)
    return batch * steps / (time.perf_counter() - start)


def image_folder(signs: Path) -> Path:
    """SIGNS's JPEGs linked into an ImageFolder layout (one folder per class)."""
    root = Path(tempfile.mkdtemp()) / "signs_folder"
    for jpg in (signs / "cs230_64x64" / "train_signs").glob("*.jpg"):
        label_dir = root / jpg.name[0]
        label_dir.mkdir(parents=True, exist_ok=True)
        (label_dir / jpg.name.replace(" ", "_")).symlink_to(jpg.resolve())
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(Path(__file__).parents[2] / "shared" / "data"))
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    root = Path(args.data_root)
    cases = [("shapes", "shapes", {}, "resnet20", 128, 0)]
    if (root / "signs").is_dir():
        cases.append(("signs", f"signs:{root / 'signs'}", {"train_on": "train+val"}, "resnet50_course", 32, 0))
        folder = image_folder(root / "signs")
        cases += [(f"folder (workers {w})", f"folder:{folder}", {"image_size": 64}, "resnet50_course", 32, w)
                  for w in (0, 2)]
    if (root / "cifar10").is_dir():
        cases.append(("cifar10 npz", f"cifar10:{root / 'cifar10'}", {}, "resnet20", 128, 0))
    rows = []
    for label, spec, options, model, batch, workers in cases:
        started = time.perf_counter()
        bundle = load_data(spec, **options)
        load_s = time.perf_counter() - started
        loader = loader_rate(bundle.train, bundle.preprocessing, batch, workers)
        consumer = model_rate(model, bundle.input_size, bundle.num_classes, batch)
        rows.append({"source": label, "load_s": load_s, "loader_img_s": loader, "model": model,
                     "model_img_s": consumer, "headroom": loader / consumer})
        print(f"{label:22s} load {load_s:6.2f} s  loader {loader:9.0f} img/s  {model} {consumer:7.0f} img/s  "
              f"headroom {loader / consumer:6.1f}x", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"data_{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
