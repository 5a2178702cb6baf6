"""``load_data(spec)``: one ``--data SPEC`` string picks the source; the default is the embedded set.

Specs: ``shapes`` (the default: generated in process), ``signs:DIR``, ``cifar10:DIR``, ``cifar100:DIR``,
``folder:DIR``. Each source lives in its own module and registers a loader here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from resnets.data.base import DataBundle, merge_splits
from resnets.errors import ResnetsError

DEFAULT_DATA = "shapes"

DATA_SOURCES: dict[str, Callable[..., DataBundle]] = {}
"""name -> loader(arg, **options); filled by the source modules imported at the bottom."""


def load_data(spec: str | None = None, *, train_on: str = "train", **options: Any) -> DataBundle:
    """Load a data set by spec (``None``: the embedded default).

    Options every source understands: ``seed`` (splits and generation), ``val_fraction`` (hold out that
    share of the training images for validation when the source has no validation split), ``limit``
    (at most this many images per split: quick runs and tests), ``train_on`` (``train``, or ``train+val`` to
    train on the validation images too, where the source has them: a recipe's choice that works on any
    data). Sources add their own (see each module).
    """
    if train_on not in ("train", "train+val"):
        raise ResnetsError(f"train_on must be train or train+val, not {train_on!r}.")
    spec = spec or DEFAULT_DATA
    name, _, arg = spec.partition(":")
    if name not in DATA_SOURCES:
        close = difflib.get_close_matches(name, list(DATA_SOURCES), n=2)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ResnetsError(
            f"unknown data source {name!r}{hint}; use one of: {', '.join(sorted(DATA_SOURCES))}, e.g. signs:DIR."
        )
    bundle = DATA_SOURCES[name](arg, **options)
    bundle.source = spec
    if train_on == "train+val" and bundle.val is not None:
        bundle.train, bundle.val = merge_splits(bundle.train, bundle.val), None
        bundle.notes.append("train_on train+val: the validation images are trained on too")
    return bundle


from resnets.data import cifar, folder, shapes, signs  # noqa: E402, F401  (each registers its loader)
