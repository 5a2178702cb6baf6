"""Checkpoints: one safetensors file holding the weights and everything needed to use or resume them.

- The model's weights, under their own (torchvision) names, so any safetensors reader gets a plain
  state dict.
- In the header's metadata, as JSON: the model spec, the class names, the preprocessing, the metrics and
  the run's resolved config.
- Optionally the training state (optimizer, epoch, step, RNG states): its tensors under ``train_state/``
  keys, its structure in the metadata. Nothing is ever unpickled, so a checkpoint cannot run code.

Every write is atomic: a temporary file in the same folder, flushed and fsynced, then renamed over the
old one. A crash or a full disk leaves the previous checkpoint intact.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.torch
import torch
from torch import nn

from resnets.data.preprocess import Preprocessing
from resnets.errors import ResnetsError
from resnets.models import NetSpec, Network, build_model, spec_from_dict, spec_to_dict
from resnets.models.weights import load_weights, strip_prefixes

FORMAT = "resnets-checkpoint"
FORMAT_VERSION = 1
TRAIN_STATE_PREFIX = "train_state/"
BEST, LAST = "best.safetensors", "last.safetensors"


@dataclass
class Checkpoint:
    """What a checkpoint file holds (module docstring)."""

    spec: NetSpec
    weights: dict[str, torch.Tensor]
    classes: list[str]
    preprocessing: Preprocessing | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    train_state: dict[str, Any] | None = None
    path: Path | None = None

    def build(self, device: torch.device | str = "cpu") -> Network:
        """The model with these weights, in eval mode on ``device``."""
        model = build_model(self.spec)
        load_weights(model, self.weights, source=f"the weights in {self.path or 'this checkpoint'}")
        return model.to(device).eval()


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    classes: list[str],
    preprocessing: Preprocessing | None = None,
    metrics: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
    spec: NetSpec | None = None,
) -> Path:
    """Write a checkpoint atomically (module docstring); returns its path."""
    path = Path(path)
    spec = spec or getattr(model, "spec", None)
    if spec is None:
        raise ValueError("a checkpoint needs the model's spec; pass spec= for a module without one.")
    tensors = {k: v.detach().cpu().contiguous() for k, v in strip_prefixes(model.state_dict()).items()}
    header: dict[str, Any] = {
        "spec": spec_to_dict(spec),
        "classes": list(classes),
        "preprocessing": preprocessing.to_dict() if preprocessing else None,
        "metrics": metrics or {},
        "config": config or {},
    }
    if train_state is not None:
        tensors_out: dict[str, torch.Tensor] = {}
        header["train_state"] = _encode(train_state, tensors_out)
        tensors.update({TRAIN_STATE_PREFIX + k: v for k, v in tensors_out.items()})
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "resnets": json.dumps(header)}
    payload = safetensors.torch.save(tensors, metadata=metadata)
    atomic_write(path, lambda f: f.write(payload))
    return path


def atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    """Write ``path`` through a temporary file, fsync, rename; on failure the old file stays."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise ResnetsError(
                f"the disk is full while writing {path}; the previous file there is kept. "
                "Free some space, then resume the run."
            ) from None
        raise


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder (its best checkpoint, else its last)."""
    path = Path(path)
    if path.is_dir():
        for name in (BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise ResnetsError(f"{path} holds no {BEST} or {LAST}; is it a run folder of `resnets train`?")
    if not path.exists():
        raise ResnetsError(f"no checkpoint at {path}; give a .safetensors file or a run folder.")
    return path


def load_checkpoint(path: str | Path, *, train_state: bool = False) -> Checkpoint:
    """Read a checkpoint (or a run folder's best); a truncated or foreign file raises one sentence."""
    path = resolve_checkpoint(path)
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise ResnetsError(
                    f"{path} is a safetensors file but not a resnets checkpoint; "
                    "import foreign weights with `resnets convert`."
                )
            keys = [k for k in f.keys() if train_state or not k.startswith(TRAIN_STATE_PREFIX)]  # noqa: SIM118
            tensors = {k: f.get_tensor(k) for k in keys}
    except (safetensors.SafetensorError, OSError, ValueError) as exc:
        if isinstance(exc, ResnetsError):
            raise
        raise ResnetsError(f"{path} is not a readable checkpoint (truncated or not safetensors: {exc}).") from None
    if int(metadata.get("format_version", "0")) > FORMAT_VERSION:
        raise ResnetsError(f"{path} was written by a newer resnets; upgrade resnets to read it.")
    header = json.loads(metadata["resnets"])
    weights = {k: v for k, v in tensors.items() if not k.startswith(TRAIN_STATE_PREFIX)}
    state = None
    if train_state and header.get("train_state") is not None:
        stored = {k[len(TRAIN_STATE_PREFIX):]: v for k, v in tensors.items() if k.startswith(TRAIN_STATE_PREFIX)}
        state = _decode(header["train_state"], stored)
    pre = header.get("preprocessing")
    return Checkpoint(
        spec=spec_from_dict(header["spec"]),
        weights=weights,
        classes=list(header.get("classes") or []),
        preprocessing=Preprocessing.from_dict(pre) if pre else None,
        metrics=header.get("metrics") or {},
        config=header.get("config") or {},
        train_state=state,
        path=path,
    )


# --- weights from any file -----------------------------------------------------------------------------

WeightReader = Callable[[Path, NetSpec], "tuple[dict[str, torch.Tensor], Preprocessing | None] | None"]
FOREIGN_READERS: list[WeightReader] = []
"""Readers of foreign weight files (Keras, torchvision, timm...), registered by :mod:`resnets.interop`.
Each returns ``(state_dict, preprocessing)`` for a file it recognises, else ``None``."""


def is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a safetensors file carrying resnets metadata."""
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == FORMAT
    except (safetensors.SafetensorError, OSError, ValueError):
        return False


def read_weights(path: str | Path, spec: NetSpec) -> tuple[dict[str, torch.Tensor], Preprocessing | None]:
    """A state dict for a model of ``spec`` from a resnets checkpoint or any foreign format a registered
    reader knows, with the preprocessing the weights expect."""
    path = resolve_checkpoint(path)
    if is_checkpoint(path):
        ckpt = load_checkpoint(path)
        return ckpt.weights, ckpt.preprocessing
    for reader in FOREIGN_READERS:
        found = reader(path, spec)
        if found is not None:
            return found
    raise ResnetsError(
        f"cannot read weights from {path}: it is not a resnets checkpoint"
        + ("" if FOREIGN_READERS else " (foreign formats need resnets.interop)")
        + " and no importer recognises it."
    )


# --- nested training state <-> JSON + tensors ---------------------------------------------------------


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Plain JSON for the structure; tensors (and numpy arrays) go to ``tensors`` by reference."""
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, np.ndarray):
        key = str(len(tensors))
        tensors[key] = torch.from_numpy(np.ascontiguousarray(value).copy())
        return {"__ndarray__": key}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {"__dict__": {k: _encode(v, tensors) for k, v in value.items()}}
        return {"__items__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint's training state.")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]].numpy()
    if "__dict__" in value:
        return {k: _decode(v, tensors) for k, v in value["__dict__"].items()}
    if "__items__" in value:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__items__"]}
    if "__tuple__" in value:
        return tuple(_decode(v, tensors) for v in value["__tuple__"])
    raise ValueError("unreadable training state in checkpoint.")
