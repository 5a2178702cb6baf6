"""Learning-rate schedules as pure functions of the step, so a resumed run needs only the step count.

Each returns the multiplier of the base learning rate at ``step`` of ``total`` steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Schedule = Callable[[int], float]


def onecycle(total: int, warmup: float = 0.25, div: float = 25.0, final_div: float = 1e4) -> Schedule:
    """Smith's one-cycle, as PyTorch's ``OneCycleLR`` shapes it: linear warm-up from ``1/div`` to 1 over
    the first ``warmup`` share of the run, then cosine annealing to ``1/(div * final_div)``."""
    up = max(1, round(total * warmup))
    low, end = 1 / div, 1 / (div * final_div)

    def f(step: int) -> float:
        if step < up:
            return low + (1 - low) * step / up
        t = min(1.0, (step - up) / max(1, total - up))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * t))

    return f


def cosine(total: int, warmup: float = 0.0) -> Schedule:
    """Linear warm-up from 0, then cosine decay to 0."""
    up = round(total * warmup)

    def f(step: int) -> float:
        if step < up:
            return (step + 1) / up
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - up) / max(1, total - up))))

    return f


def multistep(total: int, milestones: Sequence[float], gamma: float = 0.1) -> Schedule:
    """The paper's steps: multiply by ``gamma`` at each milestone (fractions of the run: 32k and 48k of
    64k iterations are 0.5 and 0.75)."""
    at = sorted(round(total * m) for m in milestones)

    def f(step: int) -> float:
        return gamma ** sum(step >= s for s in at)

    return f


def constant() -> Schedule:
    return lambda step: 1.0


def with_warmup_lr(schedule: Schedule, base_lr: float, warmup_lr: float, iterations: int) -> Schedule:
    """Hold ``warmup_lr`` for the first ``iterations`` steps (the paper's 0.01 for ResNet-110, until the
    training error falls below 80%; ~400 iterations), then follow ``schedule``."""
    ratio = warmup_lr / base_lr

    def f(step: int) -> float:
        return ratio if step < iterations else schedule(step)

    return f
