"""Deployable artefacts from a zoo model or a checkpoint: ONNX, a ``torch.export`` program, safetensors.

- ``onnx``: torch's dynamo exporter (needs ``onnxscript``), weights inside the one file
  (``external_data=False``); then ``onnx.checker`` and an onnxruntime run on a random batch, compared with
  PyTorch. A max difference above :data:`TOLERANCE` fails and the file is removed. The spec, the classes
  and the preprocessing go into the model's metadata (``resnets.*`` properties).
- ``torch-export``: ``torch.export.export`` then ``torch.export.save`` to a ``.pt2``, the exported program
  compared with the model. (Loading a ``.pt2`` unpickles it: load only files you made.)
- ``safetensors``: a resnets checkpoint (:mod:`resnets.training.checkpoint`).

``dynamic_batch`` makes the batch dimension symbolic (``torch.export.Dim("batch")``); the check then runs
on a batch of another size than the one traced.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnets.data.preprocess import Preprocessing
from resnets.errors import ResnetsError
from resnets.inspect import parse_size
from resnets.interop.load import load_weights_file
from resnets.models import Network, create_model, spec_to_json
from resnets.training.checkpoint import Checkpoint, save_checkpoint

EXPORT_FORMATS = ("onnx", "torch-export", "safetensors")
SUFFIXES = {"onnx": ".onnx", "torch-export": ".pt2", "safetensors": ".safetensors"}
TOLERANCE = 1e-4
"""Largest |exported - PyTorch| accepted on the check batch (float32 reaches ~1e-7 on these nets)."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote and how closely it reproduces the model."""

    path: Path
    format: str
    model: str
    input_size: tuple[int, int, int]
    dynamic_batch: bool
    max_abs_diff: float
    random_init: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path), "input_size": list(self.input_size)}


def export(
    model_or_ckpt: str | Path | Network,
    *,
    format: str,
    out: str | Path,
    input_size: tuple[int, int, int] | str | None = None,
    dynamic_batch: bool = False,
) -> ExportResult:
    """Write ``model_or_ckpt`` as a deployable artefact (module docstring) and check it.

    Args:
        model_or_ckpt: a zoo name (random weights: the result says so), a checkpoint, a run folder, any
            weight file :func:`~resnets.interop.load_weights_file` reads, or a model.
        format: ``onnx``, ``torch-export`` or ``safetensors``.
        out: the file to write.
        input_size: ``(C, H, W)`` or ``"CxHxW"``; the model's own default size when omitted.
        dynamic_batch: a symbolic batch dimension instead of the traced batch size.
    """
    if format not in EXPORT_FORMATS:
        raise ResnetsError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {format!r}.")
    out = Path(out)
    if out.suffix != SUFFIXES[format]:
        raise ResnetsError(f"{out} has another suffix than a {format} file's ({SUFFIXES[format]}); rename it.")
    started = time.perf_counter()
    model, checkpoint, random_init = _resolve(model_or_ckpt)
    size = tuple(parse_size(input_size)) if input_size is not None else tuple(model.spec.input_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    x = torch.randn(2, *size, generator=torch.Generator().manual_seed(0))
    if format == "safetensors":
        save_checkpoint(out, model, classes=checkpoint.classes if checkpoint else [],
                        preprocessing=checkpoint.preprocessing if checkpoint else None,
                        config=checkpoint.config if checkpoint else {})
        diff = 0.0
    else:
        try:
            with _quiet():
                diff = (_onnx if format == "onnx" else _torch_export)(model, x, out, dynamic_batch, checkpoint)
        except ResnetsError:
            raise
        except Exception as exc:  # the exporters raise many types; the user needs one line, not a traceback
            out.unlink(missing_ok=True)
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ResnetsError(f"could not export {model.spec.name} to {format}: {reason}") from exc
    if diff > TOLERANCE:
        out.unlink(missing_ok=True)
        raise ResnetsError(
            f"the {format} export of {model.spec.name} differs from PyTorch by {diff:.2e} (> {TOLERANCE:g}); "
            "the file was removed."
        )
    return ExportResult(out, format, model.spec.name, size, dynamic_batch, diff, random_init,  # type: ignore[arg-type]
                        time.perf_counter() - started)


def _resolve(model_or_ckpt: str | Path | Network) -> tuple[Network, Checkpoint | None, bool]:
    """The model in eval mode, its checkpoint when it came from a file, and whether its weights are random."""
    if isinstance(model_or_ckpt, Network):
        return model_or_ckpt.eval(), None, False
    if isinstance(model_or_ckpt, nn.Module):
        raise ResnetsError("export takes a resnets model (with a spec), a zoo name or a checkpoint.")
    path = Path(model_or_ckpt)
    if path.exists():
        checkpoint = load_weights_file(None, path)
        return checkpoint.build(), checkpoint, False
    if path.suffix or len(path.parts) > 1:
        raise ResnetsError(f"no checkpoint or weight file at {path}; give a file, a run folder or a zoo name.")
    return create_model(str(model_or_ckpt)).eval(), None, True


@contextmanager
def _quiet() -> Iterator[None]:
    """Hold back the exporters' chatter (deprecation notes, skipped torchvision ops) for one export."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)


def _dynamic_shapes(dynamic_batch: bool) -> dict[str, Any] | None:
    return {"x": {0: torch.export.Dim("batch")}} if dynamic_batch else None


def _check_batch(x: torch.Tensor, dynamic_batch: bool) -> torch.Tensor:
    """The batch the artefact is checked on: another size than the traced one when the batch is dynamic."""
    n = 3 if dynamic_batch else x.shape[0]
    return torch.randn(n, *x.shape[1:], generator=torch.Generator().manual_seed(1))


def _onnx(model: Network, x: torch.Tensor, out: Path, dynamic_batch: bool, checkpoint: Checkpoint | None) -> float:
    missing = [m for m in ("onnx", "onnxruntime", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ResnetsError(f"exporting to ONNX needs {', '.join(missing)}: pip install resnets[onnx].")
    import onnx
    import onnxruntime

    with torch.no_grad():
        program = torch.onnx.export(model, (x,), dynamo=True, input_names=["x"], output_names=["logits"],
                                    dynamic_shapes=_dynamic_shapes(dynamic_batch), verbose=False)
    program.model.metadata_props.update(_metadata(model, checkpoint))
    program.save(str(out), external_data=False)
    onnx.checker.check_model(str(out))
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    batch = _check_batch(x, dynamic_batch)
    with torch.no_grad():
        expected = model(batch).numpy()
    (got,) = session.run(None, {session.get_inputs()[0].name: batch.numpy()})
    return float(abs(got - expected).max())


def _metadata(model: Network, checkpoint: Checkpoint | None) -> dict[str, str]:
    pre: Preprocessing | None = checkpoint.preprocessing if checkpoint else None
    return {
        "resnets.spec": spec_to_json(model.spec),
        "resnets.classes": json.dumps(checkpoint.classes if checkpoint else []),
        "resnets.preprocessing": json.dumps(pre.to_dict() if pre else None),
    }


def _torch_export(
    model: Network, x: torch.Tensor, out: Path, dynamic_batch: bool, checkpoint: Checkpoint | None
) -> float:
    with torch.no_grad():
        program = torch.export.export(model, (x,), dynamic_shapes=_dynamic_shapes(dynamic_batch))
    torch.export.save(program, str(out))
    batch = _check_batch(x, dynamic_batch)
    with torch.no_grad():
        return float((program.module()(batch) - model(batch)).abs().max())
