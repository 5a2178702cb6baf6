"""The torch backend folds BatchNorm into the convolutions and answers as the model does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnets.models import create_model
from resnets.serving.backends import TorchBackend, fold_batchnorm
from resnets.training import load_checkpoint


def batchnorms(model: torch.nn.Module) -> int:
    return sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize(("name", "left"), [("resnet20", 0), ("resnet50_course", 0), ("preact_resnet110", 55)])
def test_folding_removes_the_batchnorms_after_convolutions_and_keeps_the_outputs(name: str, left: int) -> None:
    torch.manual_seed(0)
    model = create_model(name)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    folded = fold_batchnorm(model)
    size = 64 if name == "resnet50_course" else 32
    x = torch.randn(2, 3, size, size)
    assert batchnorms(folded) == left < batchnorms(model)
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x), atol=1e-4, rtol=1e-4)


class Untraceable(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x)) if x.sum() > 0 else self.conv(x)


def test_a_model_fx_cannot_trace_is_kept_as_it_is() -> None:
    model = Untraceable()
    assert fold_batchnorm(model) is model


def test_the_backend_answers_alike_with_and_without_folding(checkpoint: Path) -> None:
    ckpt = load_checkpoint(checkpoint)
    x = torch.randn(5, 3, 16, 16)
    folded, plain = TorchBackend(ckpt, device="cpu"), TorchBackend(ckpt, device="cpu", fold_bn=False)
    assert batchnorms(folded.model) == 0 < batchnorms(plain.model)
    got, expected = folded(x), plain(x)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.sum(1), torch.ones(5))
