"""Inference backends: normalized NCHW float32 inputs in, class probabilities out.

- ``torch``: the checkpoint's model in eager mode under ``torch.inference_mode``
  (:func:`resnets.training.predict.probabilities`).
- ``onnx``: ONNX Runtime, with as many threads as torch is set to use, on an ``.onnx`` file that is given,
  or exported from the checkpoint on the fly with the dynamo exporter (dynamic batch dimension, weights
  inside the model, kept in memory). Its output is treated like the model's: a softmax is applied unless
  the spec's head already ends in one.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from resnets.errors import ResnetsError
from resnets.models import Network
from resnets.training.checkpoint import Checkpoint
from resnets.training.predict import probabilities
from resnets.training.runtime import pick_device

BACKENDS = ("torch", "onnx")


class Backend(Protocol):
    """Maps a float32 batch ``(N, C, H, W)`` to probabilities ``(N, classes)`` on the CPU."""

    name: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class TorchBackend:
    """The checkpoint's model, eager, under ``torch.inference_mode``."""

    name = "torch"

    def __init__(self, ckpt: Checkpoint, *, device: str = "auto") -> None:
        self.device = pick_device(device)
        self.model: Network = ckpt.build(self.device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return probabilities(self.model, x.to(self.device)).cpu()


class OnnxBackend:
    """ONNX Runtime on the CPU, from ``onnx_path`` or from an export of the checkpoint's model."""

    name = "onnx"

    def __init__(self, ckpt: Checkpoint, *, onnx_path: str | Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ResnetsError("the onnx backend needs onnxruntime: pip install resnets[onnx]") from None
        if onnx_path is not None:
            if not Path(onnx_path).is_file():
                raise ResnetsError(f"no ONNX file at {onnx_path}; give an .onnx file or leave --onnx out.")
            model: str | bytes = str(onnx_path)
        else:
            model = export_onnx(ckpt)
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise ResnetsError(f"onnxruntime cannot load the model ({str(exc).splitlines()[0]}).") from None
        self.input_name = self.session.get_inputs()[0].name
        self.softmax = ckpt.spec.head.activation != "softmax"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        probs = torch.from_numpy(out).float()
        return probs.softmax(1) if self.softmax else probs


def export_onnx(ckpt: Checkpoint) -> bytes:
    """The checkpoint's model as a serialized ONNX model with a dynamic batch dimension."""
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter needs it; fail with the extra's name)
    except ImportError:
        raise ResnetsError("exporting to ONNX needs onnxscript: pip install resnets[onnx]") from None
    model = ckpt.build("cpu")
    size = ckpt.preprocessing.size if ckpt.preprocessing else ckpt.spec.input_size[1:]
    example = torch.zeros(2, ckpt.spec.in_chans, *size)
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)  # "torchvision is not installed. Skipping torchvision::nms" and such
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # the exporter's own deprecations, not ours to fix
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                external_data=False,
                verbose=False,
            )
    finally:
        registry_log.setLevel(level)
    return program.model_proto.SerializeToString()


def make_backend(ckpt: Checkpoint, name: str = "torch", *, onnx_path: str | Path | None = None,
                 device: str = "auto") -> Backend:
    """The backend called ``name`` for a checkpoint."""
    if name == "torch":
        if onnx_path is not None:
            raise ResnetsError("an ONNX file was given with the torch backend; add --backend onnx.")
        return TorchBackend(ckpt, device=device)
    if name == "onnx":
        return OnnxBackend(ckpt, onnx_path=onnx_path)
    raise ResnetsError(f"unknown backend {name!r}; use one of: {', '.join(BACKENDS)}.")
