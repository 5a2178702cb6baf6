"""One training step (forward, loss, backward, update), eager or captured as a CUDA graph.

Both kinds are called the same way, ``step(x, y, lr_scale) -> (loss, output)``, so the training loop and
the benchmarks run exactly the same code.

:class:`EagerStep` is the ordinary step: autocast, ``zero_grad(set_to_none=True)``, backward (through a
gradient scaler for fp16), optional clipping, the optimizer (fused where available).

:class:`GraphedStep` captures the whole step as one CUDA graph and replays it: the fast path for small
nets on GPUs.

A CIFAR ResNet-56 at batch 128 is bound by kernel launches on a modern GPU (about 22 ms a step eager, with
a compute floor near 6 ms). Capturing forward, loss, backward and the optimizer update once and replaying
them removes the launch overhead. What that needs, and how it is met here:

- static inputs: each batch is copied into the same tensors (batches have a fixed size: ``drop_last``);
- no host synchronisation inside the step: the learning rate lives in a device tensor that is filled
  before each replay. torch's SGD cannot take a tensor learning rate outside ``torch.compile``, so SGD
  runs :func:`sgd_foreach_`, the same update written with foreach ops, on the optimizer's own momentum
  buffers (checkpoints and resume are unchanged); Adam/AdamW use torch's ``capturable`` mode;
- warm-up iterations on a side stream before capture (cuDNN picks its algorithms there), with the
  BatchNorm statistics they touch restored, so the run computes what the eager loop computes.

Not for fp16 with a gradient scaler (it syncs with the host), nor under DistributedDataParallel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


@torch.no_grad()
def sgd_foreach_(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    buffers: list[torch.Tensor],
    lr: torch.Tensor,
    *,
    momentum: float,
    weight_decay: float,
    nesterov: bool,
) -> None:
    """``torch.optim.SGD``'s update (dampening 0) with a tensor learning rate; buffers start at zero."""
    if weight_decay:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    if momentum:
        torch._foreach_mul_(buffers, momentum)
        torch._foreach_add_(buffers, grads)
        step = torch._foreach_add(grads, buffers, alpha=momentum) if nesterov else list(buffers)
    else:
        step = list(grads)
    step = torch._foreach_mul(step, lr)
    torch._foreach_sub_(params, step)


class EagerStep:
    """The ordinary training step."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
        *,
        base_lr: float,
        autocast: Callable[[], Any],
        scaler: torch.amp.GradScaler | None = None,
        grad_clip: float | None = None,
    ) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.base_lr, self.autocast = base_lr, autocast
        self.scaler = scaler or torch.amp.GradScaler(enabled=False)
        self.grad_clip = grad_clip

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr_scale: float) -> tuple[torch.Tensor, Any]:
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * lr_scale * group.get("lr_scale", 1.0)
        with self.autocast():
            output = self.model(x)
            loss = self.loss_fn(output, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss, output


class GraphedStep:
    """Forward, loss, backward and update of one batch, captured once and replayed for every batch.

    Call it with a batch and the learning-rate scale; it returns the step's loss and logits (tensors that
    the next replay overwrites: read or accumulate them before the next call).
    """

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
        sample: tuple[torch.Tensor, torch.Tensor],
        *,
        base_lr: float,
        autocast: Callable[[], Any],
        warmup: int = 3,
    ) -> None:
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.base_lr = base_lr
        device = sample[0].device
        self.x = sample[0].clone()
        self.y = sample[1].clone()
        self.sgd = isinstance(optimizer, torch.optim.SGD)
        if self.sgd:
            self.lrs = [torch.zeros((), device=device) for _ in optimizer.param_groups]
            for group in optimizer.param_groups:
                for p in group["params"]:
                    state = optimizer.state[p]
                    if state.get("momentum_buffer") is None:
                        state["momentum_buffer"] = torch.zeros_like(p)
        else:
            for group in optimizer.param_groups:
                if not group.get("capturable") or not isinstance(group["lr"], torch.Tensor):
                    raise ValueError("CUDA-graph steps need Adam/AdamW with capturable=True and a tensor lr.")
        saved = {k: v.clone() for k, v in model.state_dict().items() if not v.is_floating_point() or "running" in k}
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):
                optimizer.zero_grad(set_to_none=True)
                with autocast():
                    loss = loss_fn(model(self.x), self.y)
                loss.backward()
                del loss  # no autograd node may outlive the warm-up: capture runs on another stream
        torch.cuda.current_stream().wait_stream(side)
        optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=side):
            with autocast():
                self.logits = model(self.x)
                self.loss = loss_fn(self.logits, self.y)
            self.loss.backward()
            self._update()
        model.load_state_dict(saved, strict=False)

    def _update(self) -> None:
        if not self.sgd:
            self.optimizer.step()
            return
        for group, lr in zip(self.optimizer.param_groups, self.lrs, strict=True):
            params = [p for p in group["params"] if p.grad is not None]
            sgd_foreach_(
                params,
                [p.grad for p in params],
                [self.optimizer.state[p]["momentum_buffer"] for p in params],
                lr,
                momentum=group["momentum"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
            )

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        self.x.copy_(x, non_blocking=True)
        self.y.copy_(y, non_blocking=True)
        for i, group in enumerate(self.optimizer.param_groups):
            value = self.base_lr * lr_scale * group.get("lr_scale", 1.0)
            if self.sgd:
                self.lrs[i].fill_(value)
                group["lr"] = value
            else:
                group["lr"].fill_(value)
        self.graph.replay()
        return self.loss, self.logits
