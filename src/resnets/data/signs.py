"""``signs:DIR``: the SIGNS hand-sign photos of the deeplearning.ai course (6 classes, the digits 0-5).

The course ships ``train_signs.h5`` (``train_set_x`` (1080, 64, 64, 3) uint8, ``train_set_y``) and
``test_signs.h5`` (``test_set_x`` (120, 64, 64, 3), ``test_set_y``, ``list_classes``). The CS230 release
renders the same photos as 64x64 JPEGs named ``{label}_IMG_{id}.jpg`` in ``train_signs/`` (864),
``val_signs/`` (216) and ``test_signs/`` (120), found in ``DIR``, ``DIR/cs230_64x64`` or ``DIR/64x64_SIGNS``.

Training photos come from ``train_signs.h5`` when it is there, else from the JPEGs (``train_signs`` is train
and ``val_signs`` val; ``load_data``'s ``train_on="train+val"`` trains on both, all 1,080 photos). The test
set comes from ``test_signs.h5`` when it is there, else from the JPEGs' ``test_signs``. Everything is loaded
into memory as uint8; preprocessing is the course's ``x / 255``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from resnets.data.base import DataBundle, ImageSet, check_labels
from resnets.data.preprocess import Preprocessing, image_to_tensor, read_image
from resnets.data.sources import DATA_SOURCES
from resnets.data.splits import as_directory, check_options, finish
from resnets.errors import ResnetsError

CLASSES = [str(i) for i in range(6)]
SIZE = (64, 64)
JPEG_FOLDERS = (".", "cs230_64x64", "64x64_SIGNS")
_OPTIONS: set[str] = set()
_NAME = re.compile(r"^(\d+)_")


def read_h5(path: Path, x_key: str, y_key: str) -> ImageSet:
    """Images and labels from one course h5 file (labels may be stored (N,) or (1, N))."""
    try:
        with h5py.File(path, "r") as f:
            found = sorted(f.keys())
            if x_key not in f or y_key not in f:
                raise ResnetsError(
                    f"{path} lacks the keys {x_key} and {y_key} (it has: {', '.join(found) or 'none'}); "
                    "is it the course's SIGNS file?"
                )
            x, y = np.asarray(f[x_key]), np.asarray(f[y_key]).reshape(-1)
    except OSError as exc:
        raise ResnetsError(f"cannot read {path} as HDF5 ({exc}); is it a complete .h5 file?") from None
    if x.ndim != 4 or x.shape[3] != 3 or x.dtype != np.uint8:
        raise ResnetsError(f"{path}: {x_key} is {x.dtype} {x.shape}, expected uint8 (N, H, W, 3) images.")
    if len(y) != len(x):
        raise ResnetsError(f"{path} has {len(x)} images but {len(y)} labels in {y_key}; the file is inconsistent.")
    labels = torch.from_numpy(y.astype(np.int64))
    check_labels(labels, len(CLASSES), str(path))
    return ImageSet(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), labels)


def read_jpegs(folder: Path) -> ImageSet:
    """Every ``{label}_...`` image of one CS230 folder, in name order, decoded to 64x64 uint8."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ResnetsError(f"{folder} holds no images; expected files named {{label}}_IMG_{{id}}.jpg.")
    images, labels = [], []
    for path in files:
        match = _NAME.match(path.name)
        if match is None:
            raise ResnetsError(f"{path.name} in {folder} does not start with its label (e.g. 3_IMG_5000.jpg).")
        labels.append(int(match.group(1)))
        images.append(image_to_tensor(read_image(path), SIZE))
    label_tensor = torch.tensor(labels, dtype=torch.long)
    check_labels(label_tensor, len(CLASSES), str(folder))
    return ImageSet(torch.stack(images), label_tensor)


def _jpeg_root(root: Path) -> Path | None:
    return next((root / sub for sub in JPEG_FOLDERS if (root / sub / "train_signs").is_dir()), None)


def load_signs(arg: str, *, seed: int = 0, val_fraction: float | None = None, limit: int | None = None,
               **source_options: Any) -> DataBundle:
    """SIGNS from ``DIR`` (module docstring); ``load_data``'s ``train_on="train+val"`` trains on all 1,080."""
    check_options("signs", source_options, _OPTIONS)
    root = as_directory("signs", arg)
    jpegs = _jpeg_root(root)
    notes = []
    val: ImageSet | None = None
    if (root / "train_signs.h5").is_file():
        train = read_h5(root / "train_signs.h5", "train_set_x", "train_set_y")
        notes.append("train: train_signs.h5")
    elif jpegs is not None:
        train = read_jpegs(jpegs / "train_signs")
        if (jpegs / "val_signs").is_dir():
            val = read_jpegs(jpegs / "val_signs")
        notes.append(f"train: JPEGs in {jpegs}")
    else:
        raise ResnetsError(
            f"no SIGNS training data in {root}: expected train_signs.h5 or a cs230_64x64/train_signs/ folder of JPEGs."
        )
    test: ImageSet | None = None
    if (root / "test_signs.h5").is_file():
        test = read_h5(root / "test_signs.h5", "test_set_x", "test_set_y")
        notes.append("test: test_signs.h5")
    elif jpegs is not None and (jpegs / "test_signs").is_dir():
        test = read_jpegs(jpegs / "test_signs")
        notes.append(f"test: JPEGs in {jpegs / 'test_signs'}")
    bundle = DataBundle(
        name="signs",
        source=f"signs:{arg}",
        classes=list(CLASSES),
        train=train,
        val=val,
        test=test,
        preprocessing=Preprocessing(size=SIZE, scale=1 / 255),
        description="SIGNS hand signs (digits 0-5), 64x64 RGB photos, the deeplearning.ai course set",
        notes=notes,
    )
    return finish(bundle, seed=seed, val_fraction=val_fraction, limit=limit)


DATA_SOURCES["signs"] = load_signs
