"""``evaluate()``: measure a checkpoint on a split: top-1, top-5, loss, per-class accuracy, confusion matrix.

Without ``data`` it rebuilds the data the run trained on (same source, seed and split options), so the
validation split is the one the run held out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from resnets.data import Batches, DataBundle, ImageSet, Preprocessing, Split, load_data
from resnets.data.augment import resize
from resnets.errors import ResnetsError
from resnets.training.batchnorm import recalibrate_bn
from resnets.training.checkpoint import Checkpoint, load_checkpoint, resolve_checkpoint
from resnets.training.config import resolve_tta
from resnets.training.metrics import EvalMetrics, evaluate_batches
from resnets.training.plots import plot_confusion
from resnets.training.runtime import Runtime, pick_device, pick_precision


@dataclass
class EvalResult:
    """One evaluation: where, on what, and the metrics; plus the files it wrote."""

    checkpoint: Path
    data: str
    split: str
    classes: list[str]
    metrics: EvalMetrics
    files: list[Path]
    recalibrated_bn: bool = False
    precision: str = "fp32"
    tta: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "data": self.data, "split": self.split,
                "classes": self.classes, **self.metrics.to_dict(), "recalibrated_bn": self.recalibrated_bn,
                "precision": self.precision, "tta": self.tta, "files": [str(f) for f in self.files]}


def run_data(config: dict[str, Any], data: str | None = None, *, image_size: tuple[int, int] | None = None
             ) -> DataBundle:
    """The data a run used (or ``data`` instead), split the same way."""
    spec = data or config.get("data_source") or config.get("data")
    options: dict[str, Any] = {"seed": int(config.get("seed", 0))}
    if data is None:
        for key in ("val_fraction", "limit"):
            if config.get(key) is not None:
                options[key] = config[key]
        if config.get("paper_split"):
            options["paper_split"] = True
        if config.get("train_on", "train") != "train":
            options["train_on"] = config["train_on"]
    if spec and str(spec).startswith("folder:") and image_size is not None:
        options["image_size"] = image_size
    return load_data(spec, **options)


def fit_size(split: Split, size: tuple[int, int]) -> Split:
    """An in-memory split resized to the model's input size where it differs."""
    if isinstance(split, ImageSet) and tuple(split.images.shape[2:]) != tuple(size):
        images = resize(split.images, size).round().clamp(0, 255).to(torch.uint8)
        return ImageSet(images, split.labels)
    return split


def evaluate(
    checkpoint: str | Path,
    data: str | None = None,
    *,
    split: str = "test",
    batch_size: int = 256,
    out: str | Path | None = None,
    device: str = "auto",
    precision: str = "fp32",
    recalibrate: bool = False,
    recalibrate_batches: int = 50,
    tta: str | None = None,
) -> EvalResult:
    """Evaluate a checkpoint (or a run folder's best) on a split (``resnets evaluate``).

    Args:
        checkpoint: a ``.safetensors`` checkpoint or a run folder.
        data: a data spec; by default the run's own data.
        split: ``test``, ``val`` or ``train``.
        out: folder for ``eval-<split>.json`` and the confusion-matrix PNG (default: the checkpoint's folder).
        precision: ``fp32`` (default: exact) or ``bf16``/``auto`` for speed.
        recalibrate: first recompute the BatchNorm statistics over up to ``recalibrate_batches`` batches of
            the training images (unaugmented; the checkpoint file is not changed): shows what a model whose
            statistics lag its weights (Keras's momentum 0.99 in a short run) has really learned.
        tta: test-time views to average (``none``, ``flip``, ``shift``, ``flip+shift``); by default the run's own
            ``tta``, so the figure matches what training reported.
    """
    path = resolve_checkpoint(checkpoint)
    ckpt: Checkpoint = load_checkpoint(path)
    tta = resolve_tta(ckpt.config, tta)
    pre = ckpt.preprocessing or Preprocessing(tuple(ckpt.spec.input_size[1:]))
    bundle = run_data(ckpt.config, data, image_size=pre.size)
    if ckpt.classes and bundle.num_classes != len(ckpt.classes):
        raise ResnetsError(
            f"{path.name} was trained on {len(ckpt.classes)} classes but {bundle.source} has "
            f"{bundle.num_classes}; evaluate it on data with the same classes."
        )
    chosen = fit_size(bundle.split(split), pre.size)
    dev = pick_device(device)
    rt = Runtime(dev, pick_precision(precision, dev))
    model = ckpt.build(dev)
    if recalibrate:
        train_split = fit_size(bundle.train, pre.size)
        recalibrate_bn(model, Batches(train_split, batch_size=min(batch_size, 64), preprocessing=pre, device=dev,
                                      shuffle=True, seed=int(ckpt.config.get("seed", 0)) + 7919),
                       recalibrate_batches, rt)
    batches = Batches(chosen, batch_size=batch_size, preprocessing=pre, device=dev)
    metrics = evaluate_batches(model, batches, bundle.num_classes, autocast=rt.autocast(), tta=tta)
    folder = Path(out) if out else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    classes = ckpt.classes or bundle.classes
    picture = plot_confusion(metrics.confusion, classes, folder / f"confusion-{split}.png",
                             title=f"{ckpt.spec.name} on {bundle.source} ({split}): top-1 {metrics.top1:.4f}")
    result = EvalResult(path, bundle.source, split, classes, metrics, [picture, folder / f"eval-{split}.json"],
                        recalibrated_bn=recalibrate, precision=rt.precision, tta=tta)
    (folder / f"eval-{split}.json").write_text(json.dumps(result.to_dict(), indent=2))
    return result
