from __future__ import annotations

import pytest
import torch
from tiny_data import LAB

from resnets.lab import identity
from resnets.lab.nets import study_spec
from resnets.lab.studies.identity import extra_blocks, grow
from resnets.models import build_model


def _by(result, kind, variant):
    return next(c for c in result.numbers["comparisons"] if c["kind"] == kind and c["variant"] == variant)


def test_a_deeper_residual_net_computes_exactly_the_shallow_function_and_the_plain_net_cannot(tmp_path,
                                                                                            saved_figures):
    result = identity("8,20", steps=30, out=tmp_path, quick=True, **LAB)
    zero = _by(result, "resnet", "zero")
    assert zero["bitwise_equal"] and zero["max_abs_diff"] == 0.0 and zero["agreement"] == 1.0
    assert zero["extra_blocks"] == 6
    assert not _by(result, "resnet", "default")["bitwise_equal"]
    plain_zero = _by(result, "plain", "zero")
    assert not plain_zero["bitwise_equal"] and plain_zero["output_spread"] < 1e-6  # the signal is cut
    assert _by(result, "plain", "dirac")["max_abs_diff"] < 1e-4
    assert any("computes exactly ResNet-8's function" in c for c in result.conclusions)
    bars = saved_figures["identity.png"].axes[0].patches
    assert len(bars) == len(result.numbers["comparisons"])
    for bar, c in zip(bars, result.numbers["comparisons"], strict=True):
        assert bar.get_height() == pytest.approx(max(c["max_abs_diff"], 1e-10))


def test_grow_copies_the_shallow_layers_and_appends_the_extra_blocks():
    torch.manual_seed(0)
    shallow = build_model(study_spec("resnet8", width=4, num_classes=4, input_size=(3, 16, 16))).eval()
    deep = grow(shallow, 14, "zero")
    assert [len(getattr(deep, f"layer{i}")) for i in (1, 2, 3)] == [2, 2, 2]
    assert torch.equal(deep.conv1.weight, shallow.conv1.weight)
    assert torch.equal(deep.layer2[0].conv1.weight, shallow.layer2[0].conv1.weight)
    assert torch.equal(deep.fc.weight, shallow.fc.weight)
    assert all(float(b.last_norm.weight.detach().abs().sum()) == 0 for b in extra_blocks(shallow, deep))
    x = torch.rand(5, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(deep(x), shallow(x))


def test_identity_needs_a_deeper_depth(tmp_path):
    with pytest.raises(ValueError, match="shallower and a deeper"):
        identity("20", out=tmp_path, **LAB)


def test_identity_can_copy_the_nets_a_degradation_run_trained(degradation_run, tmp_path):
    result = identity("8,14", from_run=degradation_run, out=tmp_path, device="cpu")
    assert _by(result, "resnet", "zero")["bitwise_equal"]
    assert result.settings["shallow nets"] == "trained by lab degradation"
