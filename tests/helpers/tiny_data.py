"""A tiny learnable data set registered as the ``tiny`` source, for fast training tests (and, imported
by path, for the subprocesses of the resume and DDP tests)."""

from __future__ import annotations

import torch

from resnets.data import DATA_SOURCES, DataBundle, ImageSet, Preprocessing


def make_split(n: int, seed: int, classes: int = 4) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randint(0, 60, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    for c in range(min(classes, 3)):
        x[y == c, c] += 150
    x[y == 3, :, 4:12, 4:12] += 120
    return ImageSet(x, y)


def load_tiny(arg: str = "", *, seed: int = 0, limit: int | None = None, val_fraction: float | None = None,
              classes: int = 4) -> DataBundle:
    n = 512 if not arg else int(arg)
    return DataBundle(
        name="tiny", source="tiny", classes=[f"c{i}" for i in range(classes)],
        train=make_split(n, seed, classes), val=make_split(128, seed + 1, classes),
        test=make_split(128, seed + 2, classes),
        preprocessing=Preprocessing((16, 16), mean=(0.3, 0.3, 0.3), std=(0.3, 0.3, 0.3)),
        description="coloured noise with a class-coloured channel or a bright square",
    )


def load_tiny3(arg: str = "", **kw) -> DataBundle:
    bundle = load_tiny(arg, classes=3, **{k: v for k, v in kw.items() if k != "classes"})
    bundle.name = "tiny3"
    return bundle


def register() -> None:
    DATA_SOURCES["tiny"] = load_tiny
    DATA_SOURCES["tiny3"] = load_tiny3


FAST = dict(epochs=2, lr=0.05, batch_size=64, eval_batch_size=128, log_every=4, progress=False, plots=True, workers=0,
            checkpoint_every=0)
"""Small, fast training settings shared by the tests."""

LAB = dict(data="tiny", width=4, device="cpu")
"""The shared options of the lab tests: the tiny data and nets of width 4."""
