"""Carry CIFAR-10 to a machine that only takes a small working tree (the lent GPU: 64 MiB a call).

CIFAR-10's 60,000 images are 184 MB raw and 169 MB as npz; as lossless WebP sprite sheets of 10,000 images
each they are about 102 MB, small enough to travel in two calls. ``unpack`` rebuilds the npz layout that
``cifar10:DIR`` reads, pixel for pixel (it checks the sha256 the data README gives for the raw bytes).

    python benchmarks/cifar_sheets.py pack ../shared/data/cifar10 SHEETS_DIR
    python benchmarks/cifar_sheets.py unpack SHEETS_DIR [MORE_SHEETS_DIR ...] OUT_DIR
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

PER_SHEET = 10_000
GRID = 100
SHA256 = {
    "train": "fd63cf66506d10433f4127c0491b05189542304a6184123b7afbeeb13e628cce",
    "test": "d73d532ddaf6883d8f23c83851d30286d66d864a63bd82d01389782e8062a211",
}
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def to_sheet(x: np.ndarray) -> np.ndarray:
    return x.reshape(GRID, GRID, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(GRID * 32, GRID * 32, 3)


def from_sheet(sheet: np.ndarray) -> np.ndarray:
    return sheet.reshape(GRID, 32, GRID, 32, 3).transpose(0, 2, 1, 3, 4).reshape(PER_SHEET, 32, 32, 3)


def pack(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with np.load(source / f"cifar10_{split}.npz", allow_pickle=False) as z:
            x, y = z["x"], z["y"]
        np.save(out / f"{split}_y.npy", y)
        for k in range(len(x) // PER_SHEET):
            Image.fromarray(to_sheet(x[k * PER_SHEET:(k + 1) * PER_SHEET])).save(
                out / f"{split}_{k}.webp", format="WEBP", lossless=True, quality=100, method=6)


def unpack(folders: list[Path], out: Path) -> None:
    files = {p.name: p for folder in folders for p in folder.iterdir()}
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        y = np.load(files[f"{split}_y.npy"])
        sheets = sorted((n for n in files if n.startswith(f"{split}_") and n.endswith(".webp")),
                        key=lambda n: int(n.split("_")[1].split(".")[0]))
        x = np.concatenate([from_sheet(np.asarray(Image.open(files[n]).convert("RGB"))) for n in sheets])
        digest = hashlib.sha256(x.tobytes() + y.tobytes()).hexdigest()
        if digest != SHA256[split]:
            raise SystemExit(f"{split}: {len(x)} images do not match CIFAR-10's sha256; a sheet is missing or damaged")
        np.savez(out / f"cifar10_{split}.npz", x=x, y=y, label_names=np.array(NAMES))
        print(f"{split}: {len(x)} images, sha256 ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("source", type=Path)
    p.add_argument("out", type=Path)
    u = sub.add_parser("unpack")
    u.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.source, args.out)
    else:
        unpack(args.folders[:-1], args.folders[-1])


if __name__ == "__main__":
    main()
