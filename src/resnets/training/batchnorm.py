"""BatchNorm statistics recomputed from data ("precise BN"), for training and for evaluation.

A layout with a slow BatchNorm momentum (Keras's 0.99, the course's) keeps running statistics that lag the
weights in a short run: the course's own Keras model, trained the course's way on SIGNS, reaches 0.985
training accuracy and 0.31 test accuracy (``benchmarks/course_keras_signs.py``). Recomputing the statistics
as a plain average over training batches removes the lag without touching a weight.
"""

from __future__ import annotations

import torch
from torch import nn

from resnets.data import Batches
from resnets.training.runtime import Runtime


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Batches, max_batches: int, rt: Runtime) -> None:
    """Recompute every BatchNorm's running statistics as a plain average over training batches
    ("precise BN"), for layouts whose slow momentum (Keras's 0.99) leaves them behind the weights."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return
    saved = [(m.momentum, m.training) for m in norms]
    training = model.training
    model.train()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    try:
        for i, (x, _) in enumerate(batches):
            if i >= max_batches:
                break
            with rt.autocast():
                model(x)
    finally:
        for m, (momentum, was_training) in zip(norms, saved, strict=True):
            m.momentum = momentum
            m.train(was_training)
        model.train(training)
