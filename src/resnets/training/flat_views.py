"""Fused CPU optimizers over channels-last weights without a gradient copy per step.

torch's fused Adam, AdamW and SGD kernels on the CPU call ``grad.contiguous()`` on every gradient (torch 2.13,
``aten/src/ATen/native/cpu/FusedAdamKernel.cpp``) and then read the original through its data pointer, so the
copy is never used. A channels-last convolution weight is dense but not contiguous: each step copies every
3x3 and 7x7 weight gradient, 45 MB for the course ResNet50, about 5% of a bf16 step on a 2-core AMX CPU.

:class:`FlatViews` hands the optimizer one-dimensional views of those weights instead. They share the weights'
storage, so the update is the same bit for bit; just before each step their gradients are viewed the same
way, and after it the weights' own gradients are dropped (the views consumed them). The optimizer's state
dict keeps each weight's shape, so checkpoints read the same with or without views. Not for a gradient
scaler, whose ``unscale_`` reads the optimizer's gradients before the step.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def _dense(t: torch.Tensor) -> bool:
    """Laid out without gaps or overlaps in some dimension order (contiguous or channels-last)."""
    return t.is_contiguous() or (t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last))


class FlatViews:
    """Replace each dense, non-contiguous parameter in optimizer param groups by a flat view of it.

    Build it on the groups, build the optimizer on ``groups``, then :meth:`attach` it to the optimizer.
    """

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        self.pairs: list[tuple[nn.Parameter, nn.Parameter]] = []
        self.weight_of: dict[nn.Parameter, nn.Parameter] = {}
        self.groups = []
        for group in groups:
            params = []
            for p in group["params"]:
                if p.is_contiguous() or not _dense(p):
                    params.append(p)
                    continue
                view = nn.Parameter(_flat(p.detach()), requires_grad=p.requires_grad)
                self.pairs.append((p, view))
                self.weight_of[view] = p
                params.append(view)
            self.groups.append({**group, "params": params})

    def attach(self, optimizer: torch.optim.Optimizer) -> None:
        optimizer.register_step_pre_hook(self._link)
        optimizer.register_step_post_hook(self._consume)
        optimizer.register_state_dict_post_hook(self._shaped_state)
        optimizer.register_load_state_dict_post_hook(self.adopt_state)

    def _link(self, *_: Any) -> None:
        for weight, view in self.pairs:
            grad = weight.grad
            if grad is not None and grad.stride() != weight.stride():
                grad = torch.empty_like(weight).copy_(grad)
            view.grad = None if grad is None else _flat(grad)

    def _consume(self, *_: Any) -> None:
        for weight, view in self.pairs:
            weight.grad = None
            view.grad = None

    def _shaped_state(self, optimizer: torch.optim.Optimizer, state_dict: dict[str, Any]) -> dict[str, Any]:
        """Give the state dict's per-weight tensors their weight's shape (the optimizer's own stay flat)."""
        params = [p for group in optimizer.param_groups for p in group["params"]]
        state = dict(state_dict["state"])
        for index, entry in state_dict["state"].items():
            weight = self.weight_of.get(params[index]) if isinstance(index, int) else None
            if weight is None:
                continue
            shaped = dict(entry)
            for key, value in entry.items():
                if isinstance(value, torch.Tensor) and value.dim() == 1 and value.numel() == weight.numel():
                    laid = torch.empty_like(weight, dtype=value.dtype)
                    _flat(laid).copy_(value)
                    shaped[key] = laid
            state[index] = shaped
        return {**state_dict, "state": state}

    def adopt_state(self, optimizer: torch.optim.Optimizer) -> None:
        """Flatten per-weight optimizer tensors loaded in the weight's shape, in the order the weight's memory
        holds its elements."""
        for view, weight in self.weight_of.items():
            for key, value in optimizer.state.get(view, {}).items():
                if isinstance(value, torch.Tensor) and value.shape == weight.shape:
                    laid = torch.empty_like(weight, dtype=value.dtype).copy_(value)
                    optimizer.state[view][key] = _flat(laid)
