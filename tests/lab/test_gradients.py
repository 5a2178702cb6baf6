from __future__ import annotations

import json

import pytest
import torch
from tiny_data import LAB

from resnets.lab import gradients
from resnets.lab.nets import study_spec
from resnets.lab.studies.gradients import weight_layers
from resnets.models import build_model


def test_plain_and_residual_twins_start_from_the_same_weights():
    nets = []
    for name in ("plain14", "resnet14"):
        torch.manual_seed(3)
        nets.append(build_model(study_spec(name, width=4, num_classes=4, input_size=(3, 16, 16))))
    plain, residual = (n.state_dict() for n in nets)
    assert plain.keys() == residual.keys()
    assert all(torch.equal(plain[k], residual[k]) for k in plain)
    assert not nets[0].spec.residual and nets[1].spec.residual


def test_gradient_norms_per_layer_are_in_the_json_and_in_the_figures(tmp_path, saved_figures):
    result = gradients("plain8,resnet8", steps=3, norm="none", out=tmp_path, **LAB)
    data = json.loads((tmp_path / "result.json").read_text())
    runs = data["numbers"]["runs"]
    assert [(r["model"], r["norm"]) for r in runs] == [("plain8", "none"), ("resnet8", "none"),
                                                       ("plain8", "bn"), ("resnet8", "bn")]
    layers = [name for name, _ in weight_layers(build_model(study_spec("plain8", width=4, num_classes=4,
                                                                       input_size=(3, 16, 16))))]
    for r in runs:
        assert r["layers"] == layers
        assert len(r["init"]) == len(layers) and all(v > 0 for v in r["init"])
        assert r["after_step"] == 3 and len(r["early"]["norms"]) == 4 and len(r["loss"]) == 4
    # BN-free nets start from Keras's initialisation in the auto setting; it is stated
    assert data["settings"]["init"] == "glorot" and data["settings"]["norms"] == ["none", "bn"]
    # the figure's lines are the JSON's numbers: one panel per norm, one line per net
    fig = saved_figures["gradients-init.png"]
    panels = {ax.get_title().split(":")[0]: ax for ax in fig.axes}
    for r in runs:
        ax = panels["without BatchNorm" if r["norm"] == "none" else "with BatchNorm"]
        line = next(line for line in ax.lines if line.get_label().startswith(r["label"]))
        assert list(line.get_ydata()) == pytest.approx(r["init"])
    pair = next(p for p in data["numbers"]["pairs"] if p["norm"] == "bn")
    plain, res = runs[2], runs[3]
    assert pair["first_layer_ratio_init"] == pytest.approx(res["init"][0] / plain["init"][0])
    assert {f.file for f in result.figures} == {"gradients-init.png", "gradients-after.png",
                                                 "gradients-early-layers.png"}
    assert all((tmp_path / f.file).is_file() for f in result.figures)
    assert result.conclusions and all(isinstance(c, str) for c in result.conclusions)


def test_the_deep_plain_net_without_batchnorm_has_a_vanishing_first_layer_gradient(tmp_path):
    result = gradients("plain56,resnet56", steps=1, norm="none", out=tmp_path, **LAB)
    runs = {(r["model"], r["norm"]): r for r in result.numbers["runs"]}
    vanishing = runs[("plain56", "none")]["init"][0]
    assert vanishing < 1e-4 * runs[("resnet56", "none")]["init"][0]
    assert vanishing < 1e-4 * runs[("plain56", "bn")]["init"][0]
    assert any("not vanishing gradients" in c for c in result.conclusions)


def test_bad_options_are_refused_in_one_sentence(tmp_path):
    with pytest.raises(ValueError, match="--norm must be bn or none"):
        gradients("plain8", norm="batch", out=tmp_path, **LAB)
    with pytest.raises(ValueError, match="6n \\+ 2"):
        gradients("plain9", out=tmp_path, steps=1, **LAB)
    with pytest.raises(ValueError, match="--steps"):
        gradients("plain8", steps=0, out=tmp_path, **LAB)
