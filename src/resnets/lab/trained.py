"""Trained nets for the studies that read them (``--from RUN_DIR``): a ``lab degradation`` folder (one run
folder per net) or a single ``resnets train`` run folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from resnets.data import DataBundle
from resnets.errors import ResnetsError
from resnets.training.checkpoint import LAST, Checkpoint, load_checkpoint
from resnets.training.evaluate import run_data


@dataclass
class TrainedNet:
    """One trained net: its run folder and its last checkpoint (the end of its fixed schedule)."""

    name: str
    folder: Path
    checkpoint: Checkpoint

    def model(self, device: torch.device | str = "cpu") -> nn.Module:
        """The net in eval mode with its trained weights."""
        return self.checkpoint.build(device)

    def data(self) -> DataBundle:
        """The data the net trained on, split as in training (a quick run's subset included)."""
        return run_data(self.checkpoint.config)


def find_runs(folder: str | Path) -> dict[str, TrainedNet]:
    """Every trained net under ``folder`` by model name (the folder itself, or its sub-folders)."""
    root = Path(folder)
    if not root.is_dir():
        raise ResnetsError(f"no run folder at {root}; pass the --out folder of `resnets lab degradation`.")
    candidates = [root] if (root / LAST).is_file() else sorted(p for p in root.iterdir() if (p / LAST).is_file())
    if not candidates:
        raise ResnetsError(f"{root} holds no trained net ({LAST}); train some with `resnets lab degradation "
                           f"--out {root}` first.")
    runs: dict[str, TrainedNet] = {}
    for path in candidates:
        ckpt = load_checkpoint(path / LAST)
        runs[ckpt.spec.name] = TrainedNet(ckpt.spec.name, path, ckpt)
    return runs
