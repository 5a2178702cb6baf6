"""The runtime keeps channels_last off for models whose CPU backward oneDNN gets wrong in that layout."""

from __future__ import annotations

import torch

from resnets.models import build_model, create_model, list_models
from resnets.models.zoo import cifar
from resnets.training.runtime import channels_last_hazard

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def narrow(shortcut: str) -> torch.nn.Module:
    with torch.device("meta"):
        return build_model(cifar("resnet14_narrow", 14, widths=(4, 8, 16), shortcut=shortcut))


def test_a_strided_1x1_projection_over_few_channels_turns_channels_last_off_on_cpu() -> None:
    reason = channels_last_hazard(narrow("B"), CPU)
    assert reason is not None and "layer2.0.downsample.0" in reason and "over 4 channels" in reason


def test_zero_pad_shortcuts_and_gpus_keep_channels_last() -> None:
    assert channels_last_hazard(narrow("A"), CPU) is None
    assert channels_last_hazard(narrow("B"), CUDA) is None


def test_every_zoo_model_keeps_channels_last() -> None:
    for name in list_models():
        with torch.device("meta"):
            model = create_model(name)
        assert channels_last_hazard(model, CPU) is None, name
