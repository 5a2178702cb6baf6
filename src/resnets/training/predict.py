"""``predict()``: top-k labels with probabilities for image files, with the checkpoint's own preprocessing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from resnets.errors import ResnetsError
from resnets.training.checkpoint import load_checkpoint
from resnets.training.runtime import pick_device

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}


@dataclass
class Prediction:
    """The top-k (label, probability) pairs for one image."""

    path: str
    top: list[tuple[str, float]]

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "top": [{"label": label, "probability": p} for label, p in self.top]}


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


def probabilities(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Class probabilities: the model's own softmax head, or a softmax over its logits."""
    with torch.inference_mode():
        out = model(x)
    activation = getattr(getattr(model, "spec", None), "head", None)
    if activation is not None and activation.activation == "softmax":
        return out.float()
    return out.float().softmax(1)


def predict(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    *,
    top_k: int = 5,
    batch_size: int = 32,
    device: str = "auto",
) -> list[Prediction]:
    """Predict image files or folders with a checkpoint or run folder (``resnets predict``)."""
    if top_k < 1:
        raise ResnetsError(f"--top must be at least 1, not {top_k}.")
    ckpt = load_checkpoint(checkpoint)
    if ckpt.preprocessing is None:
        raise ResnetsError(f"{ckpt.path} records no preprocessing; re-export it with `resnets convert`.")
    pre = ckpt.preprocessing
    dev = pick_device(device)
    model = ckpt.build(dev)
    classes = ckpt.classes or [str(i) for i in range(ckpt.spec.head.classes)]
    files = expand_inputs(inputs)
    k = min(top_k, len(classes))
    results: list[Prediction] = []
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        x = pre.normalize(torch.stack([pre.load(f) for f in chunk]).to(dev))
        probs = probabilities(model, x)
        values, indices = probs.topk(k, dim=1)
        for f, vs, ix in zip(chunk, values.tolist(), indices.tolist(), strict=True):
            results.append(Prediction(str(f), [(classes[i], v) for i, v in zip(ix, vs, strict=True)]))
    return results
