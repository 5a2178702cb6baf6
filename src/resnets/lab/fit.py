"""The few SGD steps some studies take themselves (outside :func:`resnets.train`, whose run folders and
schedules they do not need): an endless seeded stream of augmented training batches, and a plain loop."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from resnets.data import Augment, Batches, DataBundle


def batch_stream(bundle: DataBundle, device: torch.device, *, batch_size: int, seed: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches (pad-4 crop + flip), epoch after epoch, in the order the seed fixes."""
    batches = Batches(bundle.train, batch_size=min(batch_size, len(bundle.train)), preprocessing=bundle.preprocessing,
                      device=device, shuffle=True, augment=Augment(pad=4, flip=True), drop_last=True, seed=seed,
                      workers=0)
    epoch = 0
    while True:
        batches.set_epoch(epoch)
        yield from batches
        epoch += 1


def fit(model: nn.Module, stream: Iterator[tuple[torch.Tensor, torch.Tensor]], *, steps: int, lr: float = 0.05
        ) -> list[float]:
    """``steps`` of SGD (momentum 0.9, weight decay 5e-4, a linear decay of ``lr`` to zero); the losses."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - s / steps)
    model.train()
    losses = []
    for _ in range(steps):
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return losses
