from __future__ import annotations

import pytest
import torch

from resnets.lab import lesion
from resnets.lab.studies.lesion import removed
from resnets.lab.trained import find_runs


def test_every_block_is_deleted_once_and_the_figure_shows_the_json(degradation_run, tmp_path, saved_figures):
    result = lesion(degradation_run, out=tmp_path, device="cpu")
    nets = result.numbers["nets"]
    assert [n["model"] for n in nets] == ["plain8", "resnet8"]
    for n in nets:
        assert len(n["deleted"]) == len(n["blocks"]) == 3
        assert n["downsampling"] == [0, 1, 1]
        assert all(0 <= a <= 1 for a in n["deleted"])
    ax = saved_figures["lesion.png"].axes[0]
    curves = [line for line in ax.lines if line.get_label() in ("plain-8", "ResNet-8")]
    for n, line in zip(nets, curves, strict=True):
        assert list(line.get_ydata()) == pytest.approx([100 * a for a in n["deleted"]])
    assert result.numbers["chance"] == 0.25


def test_a_deleted_residual_block_keeps_its_shortcut_and_comes_back(degradation_run):
    model = find_runs(degradation_run)["resnet8"].model()
    x = torch.rand(4, 3, 16, 16)
    block = model.layer2[0]
    with torch.no_grad():
        before = model(x)
        inside = block.downsample(model.layer1(model.conv1(x).clamp(min=0)))
        with removed(block):
            assert torch.equal(block(model.layer1(model.act1(model.bn1(model.conv1(x))))),
                               block.downsample(model.layer1(model.act1(model.bn1(model.conv1(x))))))
            changed = model(x)
        after = model(x)
    assert inside.shape[1] == block.out_channels
    assert torch.equal(before, after) and not torch.equal(before, changed)


def test_lesion_refuses_data_and_width_and_a_folder_without_runs(tmp_path):
    with pytest.raises(ValueError, match="drop --data and --width"):
        lesion(tmp_path, data="tiny")
    with pytest.raises(ValueError, match="holds no trained net"):
        lesion(tmp_path)
