"""Flat views of channels-last weights for the fused CPU optimizers: the same updates, the same state dicts."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from tiny_data import FAST

from resnets import create_model
from resnets.training import load_checkpoint, train
from resnets.training.checkpoint import LAST
from resnets.training.flat_views import FlatViews

OPTIMIZERS = {
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.05, fused=True),
    "sgd": lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, fused=True),
}


def setup(kind: str, views: bool) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = create_model("resnet20", num_classes=4, base_width=8).to(memory_format=torch.channels_last)
    groups = [{"params": list(model.parameters())}]
    flat = FlatViews(groups) if views else None
    optimizer = OPTIMIZERS[kind](flat.groups if flat else groups)
    if flat:
        flat.attach(optimizer)
    return model, optimizer


def steps(model: torch.nn.Module, optimizer: torch.optim.Optimizer, n: int, seed: int = 1) -> None:
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(8, 3, 16, 16, generator=g).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 4, (8,), generator=g)
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_flat_views_update_the_weights_bit_for_bit_like_the_plain_optimizer(kind: str) -> None:
    plain, plain_opt = setup(kind, views=False)
    viewed, viewed_opt = setup(kind, views=True)
    assert sum(1 for p in plain.parameters() if not p.is_contiguous()) > 10
    steps(plain, plain_opt, 4)
    steps(viewed, viewed_opt, 4)
    for a, b in zip(plain.parameters(), viewed.parameters(), strict=True):
        assert torch.equal(a, b)
        assert b.is_contiguous(memory_format=torch.channels_last) or b.is_contiguous()
    assert all(p.grad is None for p in viewed.parameters() if not p.is_contiguous())


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_state_dicts_keep_weight_shapes_and_cross_load_both_ways(kind: str) -> None:
    plain, plain_opt = setup(kind, views=False)
    viewed, viewed_opt = setup(kind, views=True)
    steps(plain, plain_opt, 2)
    steps(viewed, viewed_opt, 2)
    plain_state, viewed_state = copy.deepcopy(plain_opt.state_dict()), copy.deepcopy(viewed_opt.state_dict())
    for index, entry in plain_state["state"].items():
        for key, value in entry.items():
            assert viewed_state["state"][index][key].shape == value.shape
            assert torch.equal(viewed_state["state"][index][key], value)
    assert any(v.dim() == 1 and v.numel() > 100 for s in viewed_opt.state.values() for v in s.values()
               if isinstance(v, torch.Tensor))

    # a plain optimizer's checkpoint resumed with views, and a viewed one resumed without: both continue alike
    saved = {k: v.clone() for k, v in plain.state_dict().items()}
    contiguous = {i: {k: v.contiguous() if isinstance(v, torch.Tensor) else v for k, v in e.items()}
                  for i, e in plain_state["state"].items()}
    resumed, resumed_opt = setup(kind, views=True)
    resumed.load_state_dict(saved)
    resumed_opt.load_state_dict({**plain_state, "state": contiguous})
    back, back_opt = setup(kind, views=False)
    back.load_state_dict(saved)
    back_opt.load_state_dict(viewed_state)
    for model, optimizer in ((plain, plain_opt), (resumed, resumed_opt), (back, back_opt)):
        steps(model, optimizer, 2, seed=5)
    for a, b, c in zip(plain.parameters(), resumed.parameters(), back.parameters(), strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_a_run_with_flat_views_ends_with_the_weights_of_one_without(tmp_path) -> None:
    runs = {}
    for views in (True, False):
        out = tmp_path / f"views-{views}"
        train("resnet20", "tiny", out=out, **{**FAST, "epochs": 1, "flat_views": views})
        runs[views] = load_checkpoint(out / LAST).weights
    assert all(torch.equal(runs[True][k], runs[False][k]) for k in runs[True])
