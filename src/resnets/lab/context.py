"""What every lab study shares: its options, its data, its device, its output folder and its scale.

Every study takes ``out``, ``data``, ``width``, ``seed`` and ``quick``. ``quick`` picks the small CPU scale
(narrow nets, a few thousand images, a short budget) that finishes each study in minutes on two cores and
still shows the effect; each study states its own quick and full settings, and the report says which ran.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from resnets.data import Batches, DataBundle, ImageSet, load_data
from resnets.errors import ResnetsError
from resnets.lab.nets import study_spec
from resnets.models import Network, build_model
from resnets.training.runtime import Runtime, seed_everything, setup_runtime

QUICK_WIDTH, FULL_WIDTH = 8, 16
"""Base widths (the first stage's channels): the paper's CIFAR nets use 16."""


@dataclass
class LabContext:
    """One study's resolved options (module docstring) and the command line that repeats it."""

    study: str
    out: Path
    data: str | None
    width: int | None
    seed: int
    quick: bool
    runtime: Runtime
    command: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)

    @property
    def device(self) -> torch.device:
        return self.runtime.device

    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def load(self, *, limit: int | None = None, **options: Any) -> DataBundle:
        """The study's data (the embedded default unless ``data``), at most ``limit`` images per split."""
        if limit is not None:
            options["limit"] = limit
        return load_data(self.data, seed=self.seed, **options)

    def scale(self, bundle: DataBundle | None = None, **extra: Any) -> dict[str, Any]:
        """What the report says about the scale a study ran at."""
        record: dict[str, Any] = {"quick": self.quick, "width": self.width, "seed": self.seed,
                                  "device": str(self.device), "precision": self.runtime.precision,
                                  "threads": torch.get_num_threads()}
        if bundle is not None:
            record |= {"data": bundle.source, "data_description": bundle.description,
                       "image_size": list(bundle.input_size),
                       "images": {s: len(getattr(bundle, s)) for s in ("train", "val", "test")
                                  if getattr(bundle, s) is not None}}
        return record | extra

    def build(self, name: str, bundle: DataBundle, **overrides: Any) -> Network:
        """A study net (:func:`resnets.lab.nets.study_spec`) for ``bundle``'s classes and image size, at the
        study's width, initialised from the study's seed (so plain and residual twins start alike), on its
        device."""
        torch.manual_seed(self.seed)
        spec = study_spec(name, width=self.width or FULL_WIDTH, num_classes=bundle.num_classes,
                          input_size=bundle.input_size, **overrides)
        return build_model(spec).to(self.device)

    def command_line(self) -> str:
        return shlex.join(["resnets", "lab", self.study, *self.command])


def make_context(
    study: str,
    *,
    out: str | Path | None,
    data: str | None,
    width: int | None,
    seed: int,
    quick: bool,
    device: str = "auto",
    precision: str = "auto",
    options: dict[str, Any] | None = None,
    trained_nets: bool = False,
) -> LabContext:
    """Resolve the shared options; ``options`` are the study's own, recorded in its command line.
    ``trained_nets``: the study reads nets trained elsewhere, whose data and width are their own."""
    if width is not None and width < 1:
        raise ResnetsError(f"--width must be a positive number of channels, not {width}.")
    runtime = setup_runtime(device, precision)
    seed_everything(seed)
    folder = Path(out) if out else Path("runs") / f"lab-{study}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    width = None if trained_nets else width or (QUICK_WIDTH if quick else FULL_WIDTH)
    command: list[str] = []
    for key, value in (options or {}).items():
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        command += [flag] if value is True else [flag, ",".join(map(str, value)) if isinstance(value, list | tuple)
                                                   else str(value)]
    if data:
        command += ["--data", data]
    if not trained_nets:
        command += ["--width", str(width)]
    command += ["--seed", str(seed)]
    if quick:
        command.append("--quick")
    command += ["--out", str(folder)]
    return LabContext(study, folder, data, width, seed, quick, runtime, command)


def fixed_batches(split: Any, bundle: DataBundle, ctx: LabContext, *, count: int, batch_size: int = 128,
                  shuffle: bool = False) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The first ``count`` images of a split (shuffled by the seed, class-mixed) as normalised batches on
    the device, materialised once so every net of a study sees exactly the same inputs."""
    if isinstance(split, ImageSet) and count < len(split):
        order = torch.randperm(len(split), generator=torch.Generator().manual_seed(ctx.seed))[:count]
        split = split.subset(order)
    batches = Batches(split, batch_size=batch_size, preprocessing=bundle.preprocessing, device=ctx.device,
                      shuffle=shuffle, seed=ctx.seed, workers=0)
    taken, seen = [], 0
    for x, y in batches:
        taken.append((x, y))
        seen += len(y)
        if seen >= count:
            break
    return taken
