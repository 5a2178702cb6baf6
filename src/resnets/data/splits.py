"""What every source shares: its options, seeded stratified hold-outs, class-balanced ``limit`` subsets.

All selection is by index over the labels, deterministic for a seed, and never "the first N": the CIFAR npz
files are sorted by class, so a prefix would be one class.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resnets.data.base import DataBundle, Split
from resnets.errors import ResnetsError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def check_options(source: str, options: Mapping[str, Any], allowed: set[str]) -> None:
    """Refuse options this source does not understand, naming them and the ones it does."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise ResnetsError(f"{source} does not take the option(s) {', '.join(unknown)}; its options are: {known}.")


def as_int(source: str, name: str, value: Any, *, minimum: int = 0) -> int:
    """An integer option (a number or its text, as a command line passes it) of at least ``minimum``."""
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        number = None
    if isinstance(value, bool) or number is None or number < minimum:
        raise ResnetsError(f"{source} option {name} must be an integer >= {minimum}, not {value!r}.")
    return number


def as_bool(source: str, name: str, value: Any) -> bool:
    """A yes/no option: a bool, or its text (``true``/``false``, ``1``/``0``, ``yes``/``no``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ResnetsError(f"{source} option {name} must be true or false, not {value!r}.")


def as_fraction(value: Any) -> float:
    """``val_fraction``: a number (or its text) strictly between 0 and 1."""
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = -1.0
    if not 0 < fraction < 1:
        raise ResnetsError(f"val_fraction must be a number between 0 and 1 (e.g. 0.1), not {value!r}.")
    return fraction


def as_directory(source: str, arg: str, *, create: bool = False) -> Path:
    """The ``DIR`` of ``source:DIR``: it must be given and be a directory (made when ``create``)."""
    if not arg:
        raise ResnetsError(f"{source} needs a folder: use {source}:DIR.")
    path = Path(arg).expanduser()
    if create and not path.exists():
        path.mkdir(parents=True)
    if not path.exists():
        raise ResnetsError(f"{source}: {path} does not exist; check the path in {source}:DIR.")
    if not path.is_dir():
        raise ResnetsError(f"{source}: {path} is not a directory; give the folder that holds the data.")
    return path


def stratified_holdout(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (kept, held out), holding out ``fraction`` of each class at random.

    Per-class counts are rounded by largest remainder so the total held out is ``round(fraction * N)``;
    with 5,000 images per class and 0.1 that is exactly 500 per class (the paper's 45k/5k).
    """
    y = labels.numpy()
    rng = np.random.default_rng([seed, 0x5EED])
    classes, counts = np.unique(y, return_counts=True)
    share = counts * fraction
    take = np.floor(share).astype(int)
    short = round(len(y) * fraction) - int(take.sum())
    if short > 0:
        take[np.argsort(-(share - take), kind="stable")[:short]] += 1
    held = [rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take, strict=True)]
    held_idx = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept_idx = np.setdiff1d(np.arange(len(y)), held_idx)
    return torch.from_numpy(kept_idx), torch.from_numpy(held_idx)


def balanced_subset(labels: torch.Tensor | np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``limit`` samples, classes as even as they can be, chosen at random.

    Each class is shuffled, then classes are taken round-robin (in a seeded class order) until ``limit``:
    a class that runs out simply stops contributing.
    """
    y = np.asarray(labels)
    if limit >= len(y):
        return np.arange(len(y))
    rng = np.random.default_rng([seed, 0x1117])
    order = rng.permutation(len(y))
    y_shuffled = y[order]
    sort = np.argsort(y_shuffled, kind="stable")
    classes, starts, counts = np.unique(y_shuffled[sort], return_index=True, return_counts=True)
    rank = np.empty(len(y), dtype=np.int64)
    rank[sort] = np.arange(len(y)) - np.repeat(starts, counts)
    class_rank = np.empty(int(classes.max()) + 1 if len(classes) else 0, dtype=np.int64)
    class_rank[classes] = rng.permutation(len(classes))
    key = rank * len(classes) + class_rank[y_shuffled]
    return np.sort(order[np.argsort(key, kind="stable")[:limit]])


def finish(
    bundle: DataBundle,
    *,
    seed: int,
    val_fraction: float | None,
    limit: int | None,
) -> DataBundle:
    """Apply the shared options to a bundle: hold out ``val_fraction`` of train, then cap each split."""
    if val_fraction is not None:
        fraction = as_fraction(val_fraction)
        if bundle.val is None:
            kept, held = stratified_holdout(bundle.train.labels, fraction, seed)
            bundle.train, bundle.val = bundle.train.subset(kept), bundle.train.subset(held)
            bundle.notes.append(f"val: {len(held)} training images held out (val_fraction {val_fraction}, seed {seed})")
        else:
            bundle.notes.append(f"val_fraction ignored: {bundle.name} has its own validation split")
    if limit is not None:
        limit = as_int(bundle.name, "limit", limit, minimum=1)
        for name in ("train", "val", "test"):
            split: Split | None = getattr(bundle, name)
            if split is not None and len(split) > limit:
                setattr(bundle, name, split.subset(balanced_subset(split.labels, limit, seed).tolist()))
        bundle.notes.append(f"limit: at most {limit} images per split, class-balanced (seed {seed})")
    return bundle
