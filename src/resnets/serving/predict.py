"""``predict()``: top-k labels with probabilities for image files, with the checkpoint's own preprocessing,
on the torch or the ONNX Runtime backend (``auto`` picks ONNX Runtime on the CPU for jobs big enough)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from resnets.errors import ResnetsError
from resnets.serving.backends import choose_backend, make_backend
from resnets.training.checkpoint import load_checkpoint
from resnets.training.config import resolve_tta

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


@dataclass
class Prediction:
    """The top-k (label, probability) pairs for one image."""

    path: str
    top: list[tuple[str, float]]
    backend: str = "torch"

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "top": [{"label": label, "probability": p} for label, p in self.top],
                "backend": self.backend}


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders become their image files (recursively, sorted)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise ResnetsError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ResnetsError(f"no such file or folder: {path}")
    if not files:
        raise ResnetsError("no images given; pass image files or folders.")
    return files


def predict(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    *,
    top_k: int = 5,
    batch_size: int = 32,
    device: str = "auto",
    backend: str = "auto",
    onnx_path: str | Path | None = None,
    tta: str | None = None,
) -> list[Prediction]:
    """Predict image files or folders with a checkpoint or run folder (``resnets predict``).

    Args:
        backend: ``torch``, ``onnx`` (ONNX Runtime on the CPU, from ``onnx_path`` or an export made at start)
            or ``auto`` (:func:`resnets.serving.backends.choose_backend`; torch when its own ONNX export
            fails). Both give the same top-k labels; probabilities agree to about 1e-5. Each
            :class:`Prediction` names the backend that ran.
        onnx_path: an ``.onnx`` file of this checkpoint (``resnets export CKPT --format onnx --dynamic-batch``).
        tta: test-time views whose probabilities are averaged (``none``, ``flip``, ``shift``, ``flip+shift``); by
            default what the run evaluated with, so predictions match its reported accuracy.
    """
    if top_k < 1:
        raise ResnetsError(f"--top must be at least 1, not {top_k}.")
    if batch_size < 1:
        raise ResnetsError(f"--batch-size must be at least 1, not {batch_size}.")
    ckpt = load_checkpoint(checkpoint)
    if ckpt.preprocessing is None:
        raise ResnetsError(f"{ckpt.path} records no preprocessing; re-export it with `resnets convert`.")
    pre = ckpt.preprocessing
    tta = resolve_tta(ckpt.config, tta)
    files = expand_inputs(inputs)
    name = choose_backend(ckpt, backend, images=len(files), device=device, onnx_path=onnx_path)
    try:
        model = make_backend(ckpt, name, onnx_path=onnx_path, device=device, tta=tta)
    except ResnetsError:
        if backend != "auto" or onnx_path is not None:
            raise
        name = "torch"  # auto's own export failed (a spec the exporter cannot take): torch runs any model
        model = make_backend(ckpt, name, device=device, tta=tta)
    classes = ckpt.classes or [str(i) for i in range(ckpt.spec.head.classes)]
    k = min(top_k, len(classes))
    results: list[Prediction] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        probs = model(pre.normalize(torch.stack([pre.load(f) for f in chunk])))
        values, indices = probs.topk(k, dim=1)
        for f, vs, ix in zip(chunk, values.tolist(), indices.tolist(), strict=True):
            results.append(Prediction(str(f), [(classes[i], v) for i, v in zip(ix, vs, strict=True)], name))
    return results
