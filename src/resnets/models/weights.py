"""Loading a state dict into a model strictly, with one line that says what does not match."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from resnets.errors import ResnetsError

WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes DistributedDataParallel / DataParallel and ``torch.compile`` add to every key."""


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``_orig_mod.``) that every key carries."""
    out = dict(state)
    changed = True
    while changed and out:
        changed = False
        for prefix in WRAPPER_PREFIXES:
            if all(k.startswith(prefix) for k in out):
                out = {k[len(prefix):]: v for k, v in out.items()}
                changed = True
    return out


def mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str | None:
    """``None`` when ``state`` fits ``model`` exactly, else one sentence naming the first missing key,
    the first unexpected key and the first shape clash."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    clashes = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or clashes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (first {missing[0]!r})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (first {unexpected[0]!r})")
    if clashes:
        k = clashes[0]
        parts.append(f"{len(clashes)} of another shape (first {k!r}: {tuple(state[k].shape)} in the file, "
                     f"{tuple(expected[k].shape)} in the model)")
    return "; ".join(parts)


def load_weights(model: nn.Module, state: Mapping[str, torch.Tensor], *, strict: bool = True,
                 source: str = "these weights") -> list[str]:
    """Copy ``state`` into ``model`` after stripping wrapper prefixes.

    Strict by default: any mismatch raises one sentence naming the model, the first missing and
    unexpected keys and the first shape clash. Not strict: loads the keys that fit and returns the names
    of the model's keys left as they were.
    """
    state = strip_prefixes(state)
    problem = mismatch(model, state)
    name = getattr(getattr(model, "spec", None), "name", type(model).__name__)
    if problem and strict:
        raise ResnetsError(f"{source} do not fit {name}: {problem}.")
    expected = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in expected and tuple(v.shape) == tuple(expected[k].shape)}
    model.load_state_dict(fitting, strict=False)
    return [k for k in expected if k not in fitting]
