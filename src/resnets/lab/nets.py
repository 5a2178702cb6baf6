"""The nets a lab study compares: CIFAR-style plain and residual twins at any depth and width.

``study_spec("plain56", width=8)`` is the paper's plain-56 (section 4.2) with stage widths 8/16/32 instead
of 16/32/64; ``resnet56`` is its residual twin, the same layers with option-A (parameter-free) shortcuts, so
the two start from the same weights for the same seed and differ only by the additions. ``norm="none"``
removes every BatchNorm (the course's vanishing-gradient setting). Any other zoo name is taken as it is,
with the data's classes and image size.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from resnets.errors import ResnetsError
from resnets.models import NetSpec, ResNetSpec, get_spec
from resnets.models.zoo import cifar, plain

_TWIN = re.compile(r"^(plain|resnet)(\d+)$")
NORMS = {"bn": "batch", "none": "none", "gn": "group"}
"""The lab's words for the norm layer, and the spec's."""


def parse_names(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """``"plain56,resnet56"`` (or a list) as a list of names, refusing an empty one."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise ResnetsError("name at least one model, e.g. plain56,resnet56.")
    return names


def parse_depths(text: str | list[int] | tuple[int, ...]) -> list[int]:
    """``"20,56"`` (or a list) as CIFAR depths ``6n + 2``, each checked."""
    items = text.split(",") if isinstance(text, str) else list(text)
    depths: list[int] = []
    for item in items:
        try:
            depth = int(str(item).strip())
        except ValueError:
            raise ResnetsError(f"depths are whole numbers such as 20,56; {item!r} is not one.") from None
        if depth < 8 or (depth - 2) % 6:
            raise ResnetsError(f"a CIFAR net has depth 6n + 2 (8, 14, 20, 32, 44, 56, 110 ...), not {depth}.")
        depths.append(depth)
    if not depths:
        raise ResnetsError("give at least one depth, e.g. --depths 20,56.")
    return sorted(set(depths))


def twin_names(depths: list[int]) -> list[str]:
    """The plain and residual net of every depth, plain first."""
    return [f"{kind}{d}" for d in depths for kind in ("plain", "resnet")]


def study_spec(
    name: str,
    *,
    width: int = 16,
    norm: str = "bn",
    num_classes: int = 10,
    input_size: tuple[int, int, int] = (3, 32, 32),
    **overrides: Any,
) -> NetSpec:
    """The spec of a study net (module docstring); ``overrides`` are spec fields (``zero_init_last``...)."""
    if norm not in NORMS:
        raise ResnetsError(f"--norm must be one of {', '.join(NORMS)}, not {norm!r}.")
    if width < 1:
        raise ResnetsError(f"--width must be a positive number of channels, not {width}.")
    match = _TWIN.match(name)
    if match:
        kind, depth = match.group(1), int(match.group(2))
        if depth < 8 or (depth - 2) % 6:
            raise ResnetsError(f"{name}: a CIFAR net has depth 6n + 2 (8, 14, 20, 32, 44, 56, 110 ...).")
        spec: ResNetSpec = cifar(f"resnet{depth}", depth, widths=(width, 2 * width, 4 * width))
        if kind == "plain":
            spec = plain(spec, f"plain{depth}")
    else:
        found = get_spec(name)
        if not isinstance(found, ResNetSpec):
            raise ResnetsError(f"{name} is not a residual family net; the lab studies plain and residual nets.")
        spec = found
    spec = replace(spec, norm=NORMS[norm], input_size=tuple(input_size))  # type: ignore[arg-type]
    spec = replace(spec, head=replace(spec.head, classes=num_classes), **overrides)
    return spec


def label(spec: NetSpec) -> str:
    """How figures name a net: ``plain-56``, ``ResNet-56`` (the paper's words)."""
    match = _TWIN.match(spec.name)
    if not match:
        return spec.name
    return f"{'plain' if match.group(1) == 'plain' else 'ResNet'}-{match.group(2)}"
