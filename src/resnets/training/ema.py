"""An exponential moving average (EMA) of a model's weights, evaluated and saved in place of the raw ones.

Averaging the weights over the last few hundred steps smooths out the noise of the final steps of a short
run; timm and torchvision's reference scripts offer the same. The decay warms up as ``min(decay,
(1 + n) / (10 + n))`` after ``n`` updates (timm's rule), so early averages are not dominated by the random
initialisation. Written here rather than with ``torch.optim.swa_utils.AveragedModel``, which has no decay
warm-up and regroups every tensor on each call: this keeps its tensor lists and updates them with one
``torch._foreach_lerp_`` per step. Buffers (BatchNorm statistics) are copied, not averaged; a recipe with
``bn_recalibrate`` recomputes them for the averaged weights before each evaluation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The averaged copy of ``model`` (``.module``); call :meth:`update` after every optimizer step."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the EMA decay must lie between 0 and 1 (exclusive), not {decay}.")
        self.decay = decay
        self.updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)
        self._source = model
        pairs = [(a, p) for a, p in zip(self.module.parameters(), model.parameters(), strict=True)
                 if a.is_floating_point()]
        self._averaged = [a for a, _ in pairs]
        self._current = [p.detach() for _, p in pairs]
        self._buffers = list(zip(self.module.buffers(), model.buffers(), strict=True))

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self) -> None:
        """Move the average towards the source model's current weights."""
        torch._foreach_lerp_(self._averaged, self._current, 1.0 - self.current_decay())
        for averaged, current in self._buffers:
            averaged.copy_(current)
        self.updates += 1

    def state_dict(self) -> dict[str, int]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.updates = int(state["updates"])
