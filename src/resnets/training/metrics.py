"""Evaluation of a model over batches: loss, top-1, top-5, per-class accuracy, confusion matrix.

Counts stay on the device until the end, so evaluating costs one host sync, not one per batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnets.data.augment import tta_views


@dataclass
class EvalMetrics:
    """What an evaluation measured; ``confusion[i, j]`` counts true class ``i`` predicted as ``j``."""

    loss: float
    top1: float
    top5: float
    count: int
    per_class: list[float] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"loss": self.loss, "top1": self.top1, "top5": self.top5, "count": self.count}
        if full:
            out |= {"per_class": self.per_class, "confusion": self.confusion}
        return out


def logits_of(output: Any) -> torch.Tensor:
    """The main logits of a model output (GoogLeNet with aux heads returns a tuple in training)."""
    return output[0] if isinstance(output, tuple) else output


@torch.no_grad()
def evaluate_batches(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    num_classes: int,
    *,
    autocast: contextlib.AbstractContextManager | None = None,
    tta: str = "none",
) -> EvalMetrics:
    """Run ``model`` in eval mode over ``batches`` and measure it (the model's mode is restored).

    ``tta`` other than ``none`` averages the softmax over the views of :func:`resnets.data.tta_views`; the loss is
    then the negative log of that average.
    """
    training = model.training
    model.eval()
    loss_sum = correct1 = correct5 = count = None
    confusion = None
    try:
        for x, y in batches:
            logits = _scores(model, x, autocast, tta)
            if loss_sum is None:
                device = logits.device
                loss_sum = torch.zeros((), device=device, dtype=torch.float64)
                correct1 = torch.zeros((), device=device, dtype=torch.long)
                correct5 = torch.zeros((), device=device, dtype=torch.long)
                count = 0
                confusion = torch.zeros(num_classes * num_classes, device=device, dtype=torch.long)
            if tta == "none":
                loss_sum += F.cross_entropy(logits, y, reduction="sum").double()
            else:
                loss_sum += F.nll_loss(logits.clamp_min(1e-12).log(), y, reduction="sum").double()
            top = logits.topk(min(5, logits.shape[1]), dim=1).indices
            correct1 += (top[:, 0] == y).sum()
            correct5 += (top == y[:, None]).any(1).sum()
            confusion += torch.bincount(y * num_classes + top[:, 0], minlength=num_classes * num_classes)
            count += y.shape[0]
    finally:
        model.train(training)
    if not count:
        raise ValueError("there is nothing to evaluate: the split is empty.")
    matrix = confusion.view(num_classes, num_classes).cpu()
    totals = matrix.sum(1).clamp(min=1)
    return EvalMetrics(
        loss=float(loss_sum) / count,
        top1=int(correct1) / count,
        top5=int(correct5) / count,
        count=count,
        per_class=(matrix.diag() / totals).tolist(),
        confusion=matrix.tolist(),
    )


def _scores(model: nn.Module, x: torch.Tensor, autocast: contextlib.AbstractContextManager | None,
            tta: str) -> torch.Tensor:
    """Logits of one view, or the mean softmax over the test-time views (both rank classes the same way)."""
    views = tta_views(x, tta)
    with autocast or contextlib.nullcontext():
        if len(views) == 1:
            return logits_of(model(views[0])).float()
        return torch.stack([logits_of(model(v)).float().softmax(1) for v in views]).mean(0)
