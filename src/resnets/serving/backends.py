"""Inference backends: normalized NCHW float32 inputs in, class probabilities out.

- ``torch``: the checkpoint's model in eager mode under ``torch.inference_mode``, with each BatchNorm that
  follows a convolution folded into it (:func:`fold_batchnorm`).
- ``onnx``: ONNX Runtime, with as many threads as torch is set to use, on an ``.onnx`` file that is given
  (``resnets export CKPT --format onnx --dynamic-batch`` writes one), or else exported from the checkpoint
  at start the same way, into a temporary file. Its output is treated like the model's: a softmax is
  applied unless the spec's head already ends in one.
- ``auto`` (:func:`choose_backend`): ONNX Runtime on the CPU when it is installed and the job is big enough
  to repay the export at start (or an ``.onnx`` file is given); torch otherwise.
"""

from __future__ import annotations

import copy
import importlib.util
import tempfile
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from resnets.blocks.layers import plain_convs
from resnets.data.augment import tta_views
from resnets.errors import ResnetsError
from resnets.inspect import summary
from resnets.models import build_model
from resnets.training.checkpoint import Checkpoint
from resnets.training.config import resolve_tta
from resnets.training.runtime import pick_device

BACKENDS = ("torch", "onnx")

AUTO_ONNX_MIN_GMACS = 1500.0
"""The least work (images x GMACs per image) for which ``auto`` exports to ONNX: below it the export at
start costs more than ONNX Runtime saves. ``benchmarks/predict.py`` measured the break-even at 130-1,217
GMACs over four runs on 2 AVX2 cores (ResNet-20 32px, ResNet-50 224px, course ResNet50 64px); this sits above the
largest, so ``auto`` switches only where the export surely pays."""


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """An inference copy of ``model`` in which every BatchNorm that follows a convolution is folded into the
    convolution's weights and bias (``torch.fx.experimental.optimization.fuse``): the same outputs up to
    float rounding, one pass over the activations fewer per convolution. BatchNorms before a convolution
    (pre-activation blocks) stay. A model torch.fx cannot trace is returned as it is, in eval mode: it
    runs the same, only without the saving."""
    with warnings.catch_warnings():  # it imports torch.utils.mkldnn, whose torch.jit.script_method is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch.fx.experimental.optimization import fuse

    model.eval()
    try:
        return fuse(plain_convs(copy.deepcopy(model)), inplace=True)
    except Exception:  # torch.fx raises many types on untraceable code; the unfolded model still runs
        return model


def probabilities(model: torch.nn.Module, x: torch.Tensor, *, softmax: bool | None = None) -> torch.Tensor:
    """Class probabilities: a softmax over the model's logits, or its outputs as they are when its head
    already ends in a softmax. ``softmax=None`` reads that from the model's spec (a folded model has none:
    pass it)."""
    if softmax is None:
        head = getattr(getattr(model, "spec", None), "head", None)
        softmax = getattr(head, "activation", None) != "softmax"
    with torch.inference_mode():
        out = model(x).float()
    return out.softmax(1) if softmax else out


class Backend(Protocol):
    """Maps a float32 batch ``(N, C, H, W)`` to probabilities ``(N, classes)`` on the CPU."""

    name: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class TorchBackend:
    """The checkpoint's model, eager, under ``torch.inference_mode``; ``fold_bn`` folds BatchNorm into the
    convolutions first (:func:`fold_batchnorm`, faster and the same outputs within 1e-5)."""

    name = "torch"

    def __init__(self, ckpt: Checkpoint, *, device: str = "auto", fold_bn: bool = True) -> None:
        self.device = pick_device(device)
        model = ckpt.build(self.device)
        self.model: torch.nn.Module = fold_batchnorm(model) if fold_bn else model
        self.softmax = ckpt.spec.head.activation != "softmax"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return probabilities(self.model, x.to(self.device), softmax=self.softmax).cpu()


class OnnxBackend:
    """ONNX Runtime on the CPU, from ``onnx_path`` or from an export of the checkpoint's model."""

    name = "onnx"

    def __init__(self, ckpt: Checkpoint, *, onnx_path: str | Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ResnetsError("the onnx backend needs onnxruntime: pip install resnets[onnx]") from None
        if onnx_path is not None and not Path(onnx_path).is_file():
            raise ResnetsError(f"no ONNX file at {onnx_path}; give an .onnx file or leave --onnx out.")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        with tempfile.TemporaryDirectory() as tmp:
            path = onnx_path or export_onnx(ckpt, Path(tmp) / "model.onnx")
            try:
                self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own unrelated exception types
                raise ResnetsError(f"onnxruntime cannot load the model ({str(exc).splitlines()[0]}).") from None
        self.input_name = self.session.get_inputs()[0].name
        self.softmax = ckpt.spec.head.activation != "softmax"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x.numpy(), dtype=np.float32)})
        probs = torch.from_numpy(out).float()
        return probs.softmax(1) if self.softmax else probs


def export_onnx(ckpt: Checkpoint, out: Path) -> Path:
    """Write the checkpoint's model to ``out`` as ONNX with a dynamic batch dimension, at its preprocessing's
    size (:func:`resnets.interop.export`, which checks the file against PyTorch)."""
    from resnets.interop import export

    size = ckpt.preprocessing.size if ckpt.preprocessing else ckpt.spec.input_size[1:]
    return export(ckpt.build("cpu"), format="onnx", out=out, input_size=(ckpt.spec.in_chans, *size),
                  dynamic_batch=True).path


def onnx_available(export: bool = True) -> bool:
    """Whether ONNX Runtime (and, to export at start, onnxscript) can be imported."""
    needed = ("onnxruntime", "onnxscript") if export else ("onnxruntime",)
    return all(importlib.util.find_spec(name) is not None for name in needed)


def gmacs_per_image(ckpt: Checkpoint) -> float | None:
    """The model's multiply-accumulates for one image at its preprocessing's size, in billions (counted on
    the ``meta`` device: no arithmetic); None when they cannot be counted."""
    size = ckpt.preprocessing.size if ckpt.preprocessing else ckpt.spec.input_size[1:]
    try:
        with torch.device("meta"):
            net = build_model(ckpt.spec)
        return summary(net, (ckpt.spec.in_chans, *size)).macs / 1e9
    except (RuntimeError, ValueError, ResnetsError):
        return None


def choose_backend(ckpt: Checkpoint, name: str = "auto", *, images: int, device: str = "auto",
                   onnx_path: str | Path | None = None) -> str:
    """Resolve ``auto`` for a job of ``images`` images: ``onnx`` on the CPU when ONNX Runtime is installed
    and either ``onnx_path`` is given or the work (images x GMACs) reaches :data:`AUTO_ONNX_MIN_GMACS`;
    ``torch`` otherwise (a given file is used even where a GPU is present, unless a GPU ``device`` is
    named). Refuses, in one sentence, what cannot run: ONNX on an explicit non-CPU device, or an ONNX file
    that ONNX Runtime cannot take here."""
    on_cpu = pick_device(device).type == "cpu"
    if name == "onnx" and not on_cpu and device != "auto":
        raise ResnetsError(f"the onnx backend runs on the CPU, not {device}; use --backend torch for {device}.")
    if name != "auto":
        return name
    if onnx_path is not None:
        if not on_cpu and device != "auto":
            raise ResnetsError(f"an ONNX file runs on the CPU, not {device}; drop --onnx or use --device cpu.")
        if not onnx_available(export=False):
            raise ResnetsError("an ONNX file was given but onnxruntime is not installed: pip install resnets[onnx]")
        return "onnx"
    if not on_cpu or not onnx_available():
        return "torch"
    gmacs = gmacs_per_image(ckpt)
    return "onnx" if gmacs is not None and images * gmacs >= AUTO_ONNX_MIN_GMACS else "torch"


class ViewAverage:
    """A backend whose probabilities are the mean over test-time views of each batch (:func:`tta_views`)."""

    def __init__(self, backend: Backend, tta: str) -> None:
        self.backend, self.tta, self.name = backend, tta, backend.name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.backend(v) for v in tta_views(x, self.tta)]).mean(0)


def make_backend(ckpt: Checkpoint, name: str = "torch", *, onnx_path: str | Path | None = None,
                 device: str = "auto", tta: str = "none") -> Backend:
    """The backend called ``name`` (``torch`` or ``onnx``) for a checkpoint, averaging ``tta`` views."""
    backend: Backend
    if name == "torch":
        if onnx_path is not None:
            raise ResnetsError("an ONNX file was given with the torch backend; add --backend onnx.")
        backend = TorchBackend(ckpt, device=device)
    elif name == "onnx":
        backend = OnnxBackend(ckpt, onnx_path=onnx_path)
    else:
        raise ResnetsError(f"unknown backend {name!r}; use one of: {', '.join(BACKENDS)}.")
    tta = resolve_tta(ckpt.config, tta)
    return backend if tta == "none" else ViewAverage(backend, tta)
