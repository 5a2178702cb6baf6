from __future__ import annotations

import pytest
import torch
from tiny_data import LAB

from resnets.lab import responses
from resnets.lab.nets import study_spec
from resnets.lab.studies.responses import layer_responses, response_layers
from resnets.models import build_model


def test_fresh_nets_respond_at_batchnorm_scale_and_the_figure_shows_the_json(tmp_path, saved_figures):
    result = responses("8,14", out=tmp_path, **LAB)
    nets = result.numbers["nets"]
    assert [n["model"] for n in nets] == ["plain8", "plain14", "resnet8", "resnet14"]
    for n in nets:
        assert len(n["std"]) == n["depth"] - 1  # the stem and every conv of the blocks: not the classifier
        assert n["std"] == pytest.approx([1.0] * len(n["std"]), abs=0.25)
        assert n["sorted"] == sorted(n["std"], reverse=True)
    top, bottom = saved_figures["responses.png"].axes
    for n, line, sorted_line in zip(nets, top.lines, bottom.lines, strict=True):
        assert line.get_label() == n["label"]
        assert list(line.get_ydata()) == pytest.approx(n["std"])
        assert list(sorted_line.get_ydata()) == pytest.approx(n["sorted"])
    assert "nothing distinguishes plain from residual" in result.conclusions[0]


def test_a_response_is_the_std_per_channel_after_the_norm():
    torch.manual_seed(0)
    model = build_model(study_spec("resnet8", width=4, num_classes=4, input_size=(3, 16, 16))).eval()
    x = torch.randn(16, 3, 16, 16)
    measured = layer_responses(model, [(x[:8], None), (x[8:], None)])
    name, norm = response_layers(model)[1]
    captured = []  # the std is taken in the hook: the ReLU after the norm works in place
    handle = norm.register_forward_hook(lambda m, i, o: captured.append(o.double().std((0, 2, 3), unbiased=False)))
    with torch.no_grad():
        model(x)
    handle.remove()
    expected = captured[0].mean()
    assert measured["layers"][1] == name
    assert measured["std"][1] == pytest.approx(float(expected), rel=1e-6)


def test_responses_of_trained_nets(degradation_run, tmp_path):
    result = responses(from_run=degradation_run, out=tmp_path, device="cpu")
    assert {n["model"] for n in result.numbers["nets"]} == {"plain8", "resnet8"}
    assert result.scale["trained"] is True
