"""The embedded default data set (``shapes``): coloured shapes drawn in process, no file and no download.

Six classes, in label order: circle, square, triangle, star, cross, ring. Each RGB image (32x32 by default,
``size=64`` for the course's input size) holds one filled shape:

- shape colour and background colour uniform in RGB, at least 100 apart (Euclidean, 0..255 scale), so the
  shape is sometimes lighter and sometimes darker than its background;
- the background is that colour plus a linear ramp in a random direction (slope up to 40 levels per half
  image);
- the shape's circumradius is 22-42% of the image side, its centre anywhere that keeps it inside the image,
  its rotation uniform (a ring's hole is 45-65% of its radius; a cross's arms are 26-36% of its radius wide);
- 1-2 clutter lines (1-1.5 px wide at 32x32, end points anywhere, one random colour) lie behind the shape, and
  Gaussian noise (sigma 6 levels) is added to every pixel.

Shapes are drawn by Pillow at twice the size and averaged down 2x2, so edges are anti-aliased.

Since colour, position, scale and rotation are all random, no pixel carries the class: a linear classifier
on the pixels stays near chance (1/6) while a small CIFAR ResNet learns the set (docs/data.md). The train,
val and test splits come from independent random streams of ``seed``, so the same seed gives the same
images on every call and the splits share no image.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from resnets.data.base import DataBundle, ImageSet
from resnets.data.preprocess import Preprocessing
from resnets.data.sources import DATA_SOURCES
from resnets.data.splits import as_int, check_options, finish
from resnets.errors import ResnetsError

CLASSES = ["circle", "square", "triangle", "star", "cross", "ring"]
SPLITS = {"train": 12_000, "val": 1_000, "test": 2_000}
MEAN = (0.5030, 0.5008, 0.4968)
STD = (0.2869, 0.2881, 0.2863)
"""Per-channel mean and std of the default train split (seed 0, 32x32, pixels/255), computed once with
:func:`generate`; fixed so that a model's preprocessing does not depend on the seed or the counts."""

_OPTIONS = {"size", "n_train", "n_val", "n_test"}
_NOISE_SIGMA = 6.0
_MIN_CONTRAST = 100.0
_CHUNK = 1024


def _unit_polygon(label: int, inner: float) -> np.ndarray:
    """Vertices (K, 2) of a polygonal class on the unit circumcircle, unrotated."""
    name = CLASSES[label]
    if name in ("square", "triangle"):
        k = 4 if name == "square" else 3
        angles = np.arange(k) * 2 * math.pi / k + math.pi / k
        return np.stack([np.cos(angles), np.sin(angles)], 1)
    if name == "star":
        angles = np.arange(10) * math.pi / 5 - math.pi / 2
        radius = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
        return np.stack([radius * np.cos(angles), radius * np.sin(angles)], 1)
    w, r = inner, math.sqrt(1 - inner**2)
    return np.array([(w, w), (w, r), (-w, r), (-w, w), (-r, w), (-r, -w), (-w, -w), (-w, -r), (w, -r), (w, -w),
                     (r, -w), (r, w)])


def _masks(labels: np.ndarray, rng: np.random.Generator, canvas: int) -> np.ndarray:
    """Draw each image's clutter lines (value 2) and then its shape over them (value 1) into uint8 maps."""
    n = len(labels)
    radius = rng.uniform(0.22, 0.42, n) * canvas
    centre = rng.uniform(0, 1, (n, 2)) * (canvas - 2 * radius[:, None]) + radius[:, None]
    angle = rng.uniform(0, 2 * math.pi, n)
    inner = np.where(labels == CLASSES.index("ring"), rng.uniform(0.45, 0.65, n), rng.uniform(0.13, 0.18, n))
    n_lines = rng.integers(1, 3, n)
    ends = rng.uniform(-0.1, 1.1, (n, 2, 4)) * canvas
    widths = rng.integers(2, 4, (n, 2)) * max(1, canvas // 64)
    rotations = np.stack([np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], 1).reshape(n, 2, 2)
    out = np.empty((n, canvas, canvas), dtype=np.uint8)
    for i in range(n):
        img = Image.new("L", (canvas, canvas), 0)
        draw = ImageDraw.Draw(img)
        for j in range(n_lines[i]):
            draw.line(tuple(ends[i, j]), fill=2, width=int(widths[i, j]))
        cx, cy, r, label = centre[i, 0], centre[i, 1], radius[i], int(labels[i])
        if CLASSES[label] == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=1)
        elif CLASSES[label] == "ring":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=1, width=max(1, round(r * (1 - inner[i]))))
        else:
            points = _unit_polygon(label, inner[i]) @ rotations[i].T * r + centre[i]
            draw.polygon([tuple(p) for p in points], fill=1)
        out[i] = np.asarray(img)
    return out


def _colours(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background, shape and line colours (N, 3), shape at least ``_MIN_CONTRAST`` from background."""
    background = rng.uniform(0, 255, (n, 3))
    shape = rng.uniform(0, 255, (n, 3))
    close = np.linalg.norm(shape - background, axis=1) < _MIN_CONTRAST
    while close.any():
        shape[close] = rng.uniform(0, 255, (int(close.sum()), 3))
        close = np.linalg.norm(shape - background, axis=1) < _MIN_CONTRAST
    return background, shape, rng.uniform(0, 255, (n, 3))


def _render(labels: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Images (N, 3, size, size) uint8 for the given labels, all randomness from ``rng``."""
    n = len(labels)
    maps = _masks(labels, rng, 2 * size)
    background, shape, line = _colours(n, rng)
    direction = rng.uniform(0, 2 * math.pi, n).astype(np.float32)
    amplitude = rng.uniform(0, 40, n).astype(np.float32)
    ramp = np.linspace(-1, 1, size, dtype=np.float32)
    gradient = (np.cos(direction)[:, None, None] * ramp[None, None, :]
                + np.sin(direction)[:, None, None] * ramp[None, :, None]) * amplitude[:, None, None]
    coverage = [_coverage(maps, value) for value in (1, 2)]
    pixels = (4 - coverage[0] - coverage[1]) * (gradient[..., None] + background[:, None, None, :].astype(np.float32))
    pixels += coverage[0] * shape[:, None, None, :].astype(np.float32)
    pixels += coverage[1] * line[:, None, None, :].astype(np.float32)
    pixels *= 0.25
    pixels += rng.standard_normal(pixels.shape, dtype=np.float32) * _NOISE_SIGMA
    return np.clip(pixels + 0.5, 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


def _coverage(maps: np.ndarray, value: int) -> np.ndarray:
    """How many of each 2x2 block's pixels hold ``value``: (N, H/2, W/2, 1) float32 in 0..4."""
    hit = (maps == value).view(np.uint8)
    count = hit[:, 0::2, 0::2] + hit[:, 1::2, 0::2] + hit[:, 0::2, 1::2] + hit[:, 1::2, 1::2]
    return count[..., None].astype(np.float32)


def generate(n: int, *, seed: int = 0, split: str = "train", size: int = 32) -> ImageSet:
    """``n`` images of one split, class-balanced (counts differ by at most one), deterministic by seed.

    Each split draws from its own stream (``seed`` and the split's name), so splits never share an image.
    """
    rng = np.random.default_rng([seed, list(SPLITS).index(split)])
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    for start in range(0, n, _CHUNK):
        images[start:start + _CHUNK] = _render(labels[start:start + _CHUNK], rng, size)
    return ImageSet(torch.from_numpy(images), torch.from_numpy(labels))


def load_shapes(arg: str, *, seed: int = 0, val_fraction: float | None = None, limit: int | None = None,
                **source_options: Any) -> DataBundle:
    """The embedded default. Options: ``size`` (side in pixels, default 32), ``n_train`` / ``n_val`` /
    ``n_test`` (images per split, default 12,000 / 1,000 / 2,000; 0 leaves a split out)."""
    check_options("shapes", source_options, _OPTIONS)
    if arg:
        raise ResnetsError(f"shapes takes no folder (got shapes:{arg}); use plain shapes, with options if needed.")
    size = as_int("shapes", "size", source_options.get("size", 32), minimum=8)
    counts = {s: as_int("shapes", f"n_{s}", source_options.get(f"n_{s}", n), minimum=0) for s, n in SPLITS.items()}
    if counts["train"] == 0:
        raise ResnetsError("shapes needs training images: n_train must be at least 1.")
    splits = {s: generate(n, seed=seed, split=s, size=size) if n else None for s, n in counts.items()}
    bundle = DataBundle(
        name="shapes",
        source="shapes",
        classes=list(CLASSES),
        train=splits["train"],  # type: ignore[arg-type]
        val=splits["val"],
        test=splits["test"],
        preprocessing=Preprocessing(size=(size, size), mean=MEAN, std=STD),
        description=f"embedded shapes: 6 classes of random coloured shapes, {size}x{size} RGB, generated (seed {seed})",
    )
    return finish(bundle, seed=seed, val_fraction=val_fraction, limit=limit)


DATA_SOURCES["shapes"] = load_shapes
