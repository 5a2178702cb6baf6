"""The CUDA-graph step's SGD update equals torch's SGD (checked on CPU; capture itself needs a GPU)."""

from __future__ import annotations

import pytest
import torch

from resnets.training.graphs import sgd_foreach_


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
def test_graphed_training_matches_eager_on_gpu(tmp_path) -> None:
    import tiny_data

    from resnets.training import load_checkpoint, train

    tiny_data.register()
    runs = {}
    for mode in ("off", "on"):
        train("resnet20", "tiny", out=tmp_path / mode, cuda_graphs=mode, precision="fp32", channels_last=False,
              deterministic=True, **tiny_data.FAST)
        runs[mode] = load_checkpoint(tmp_path / mode / "last.safetensors").weights
    for k, v in runs["off"].items():
        if v.is_floating_point():
            assert torch.allclose(v, runs["on"][k], atol=1e-4), k
