"""The CUDA-graph step's SGD update equals torch's SGD (checked on CPU; capture itself needs a GPU)."""

from __future__ import annotations

import pytest
import torch

from resnets.training.steps import sgd_foreach_


@pytest.mark.parametrize(("momentum", "nesterov", "wd"), [(0.9, True, 5e-4), (0.9, False, 1e-4), (0.0, False, 0.0)])
def test_foreach_sgd_matches_torch_sgd(momentum: float, nesterov: bool, wd: float) -> None:
    torch.manual_seed(0)
    ours = [torch.randn(5, 3), torch.randn(7)]
    theirs = [p.clone().requires_grad_() for p in ours]
    opt = torch.optim.SGD(theirs, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=wd)
    buffers = [torch.zeros_like(p) for p in ours]
    for step in range(5):
        lr = 0.1 * (step + 1)
        grads = [torch.randn_like(p) for p in ours]
        for p, g in zip(theirs, grads, strict=True):
            p.grad = g.clone()
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        sgd_foreach_(ours, grads, buffers, torch.tensor(lr), momentum=momentum, weight_decay=wd, nesterov=nesterov)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b.detach(), atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_replayed_step_updates_weights_as_an_eager_step_on_gpu() -> None:
    """One step from the same weights and batch: equal to rounding (later steps drift apart chaotically,
    as any two float orderings do, so only the first step is compared)."""
    import copy

    import torch.nn.functional as F

    import resnets
    from resnets.training.steps import GraphedStep

    torch.backends.cudnn.allow_tf32 = False
    eager = resnets.create_model("resnet20").cuda().train()
    graphed = copy.deepcopy(eager)
    opts = [torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
            for m in (eager, graphed)]
    x, y = torch.randn(64, 3, 32, 32, device="cuda"), torch.randint(0, 10, (64,), device="cuda")
    F.cross_entropy(eager(x), y).backward()
    opts[0].step()
    step = GraphedStep(graphed, opts[1], F.cross_entropy, (x, y), base_lr=0.1,
                       autocast=lambda: torch.autocast("cuda", enabled=False))
    step(x, y, 1.0)
    a, b = eager.state_dict(), graphed.state_dict()
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_graphed_training_learns_like_eager_on_gpu(tmp_path) -> None:
    import tiny_data

    from resnets.training import train

    tiny_data.register()
    accuracy = {mode: train("resnet20", "tiny", out=tmp_path / mode, cuda_graphs=mode, **tiny_data.FAST).test["top1"]
                for mode in ("off", "on")}
    assert accuracy["on"] >= 0.9 and accuracy["off"] >= 0.9
