"""``convert(src, dst)``: a weight file from one format to another, the model and its preprocessing kept.

The source is any format :func:`~resnets.interop.load_weights_file` reads; the destination's suffix picks
what is written:

- ``.safetensors``: a resnets checkpoint (weights, spec, classes, preprocessing, where they came from);
- ``.pth`` / ``.pt``: a plain state dict in torchvision's names, for torchvision / timm code;
- ``.weights.h5``: Keras 3 weights that ``load_weights`` reads into the same architecture built in Keras
  (the course's functions or ``keras.applications``), for the Keras-layout models only.

``resnets export`` makes deployable artefacts (ONNX, ``torch.export``) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from resnets.data.preprocess import Preprocessing
from resnets.errors import ResnetsError
from resnets.interop.keras import classifier_map, write_keras_weights
from resnets.interop.keras_names import scheme_for
from resnets.interop.load import load_weights_file
from resnets.models import NetSpec
from resnets.training.checkpoint import atomic_write, save_checkpoint

TARGETS = {".safetensors": "resnets checkpoint", ".pth": "PyTorch state dict", ".pt": "PyTorch state dict",
           ".weights.h5": "Keras 3 .weights.h5"}


@dataclass(frozen=True)
class ConvertResult:
    """What :func:`convert` read and wrote."""

    src: Path
    dst: Path
    source_format: str
    target_format: str
    model: str
    classes: int
    matched: str
    preprocessing: Preprocessing | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "src": str(self.src), "dst": str(self.dst),
                "preprocessing": self.preprocessing.to_dict() if self.preprocessing else None}


def convert(src: str | Path, dst: str | Path, *, model: str | NetSpec | None = None) -> ConvertResult:
    """Read ``src`` (any supported format; the model it holds, or ``model``) and write ``dst`` in the
    format its suffix names (module docstring)."""
    src, dst = Path(src), Path(dst)
    suffix = ".weights.h5" if dst.name.endswith(".weights.h5") else dst.suffix
    if suffix not in TARGETS:
        raise ResnetsError(f"{dst} has an unknown suffix; write one of {', '.join(TARGETS)}.")
    checkpoint = load_weights_file(model, src)
    net = checkpoint.build()
    if suffix == ".safetensors":
        save_checkpoint(dst, net, classes=checkpoint.classes, preprocessing=checkpoint.preprocessing,
                        config=checkpoint.config)
    elif suffix == ".weights.h5":
        write_keras_weights(dst, net, scheme_for(net), dense_map=classifier_map(net))  # type: ignore[arg-type]
    else:
        state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
        atomic_write(dst, lambda f: torch.save(state, f))
    source = checkpoint.config.get("source", {})
    return ConvertResult(
        src=src,
        dst=dst,
        source_format=source.get("format", "resnets"),
        target_format=TARGETS[suffix],
        model=checkpoint.spec.name,
        classes=checkpoint.spec.head.classes,
        matched=source.get("matched", "by key (resnets checkpoint)"),
        preprocessing=checkpoint.preprocessing,
        notes=list(source.get("notes", [])),
    )
