"""summary() and diagram(): the course's Keras count, MACs, folding, files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from resnets import create_model, diagram, summary, zoo_table


def test_course_summary_matches_keras_counts() -> None:
    keras = summary("resnet50_course", keras=True)
    assert keras.total_params == 23_600_006
    assert keras.trainable_params == 23_546_886
    assert keras.non_trainable_params == 53_120
    plain = summary("resnet50_course")
    assert plain.total_params == 23_546_886
    assert [r.name for r in plain.rows] == ["conv1", "bn1", "act1", "maxpool", "layer1", "layer2", "layer3",
                                            "layer4", "global_pool", "fc"]
    assert plain.rows[-1].output_shape == (1, 6)
    assert "23,600,006" in str(keras)


def test_macs_come_from_torchs_flop_counter() -> None:
    assert summary("resnet50").macs == 4_089_184_256
    assert round(summary("resnet18").macs / 1e9, 2) == 1.81  # reference: 1.81 GMACs


def test_depth_unfolds_blocks_and_layers() -> None:
    stages = summary("resnet20")
    blocks = summary("resnet20", depth=2)
    leaves = summary("resnet20", depth=None)
    assert len(stages.rows) < len(blocks.rows) < len(leaves.rows)
    assert any(r.name == "layer2.0.conv1" for r in leaves.rows)
    assert sum(r.params for r in stages.rows) == stages.total_params


def test_summary_of_a_live_module_and_another_input() -> None:
    model = create_model("resnet20")
    result = summary(model, "3x64x64")
    assert result.rows[-1].output_shape == (1, 10)
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="CxHxW"):
        summary(model, "64x64")


def test_zoo_table_lists_params_and_macs() -> None:
    rows = {r.name: r for r in zoo_table("resnet*0")}
    assert rows["resnet50"].params == 25_557_032
    assert rows["resnet20"].macs == summary("resnet20").macs


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_diagram_writes_the_file(tmp_path: Path, suffix: str) -> None:
    out = diagram("resnet20", tmp_path / f"r{suffix}")
    assert out.stat().st_size > 1000
    if suffix == ".svg":
        text = out.read_text()
        assert "layer2.0" in text and "zero-pad" in text and "64x8x8" in text


def test_diagram_of_a_live_model_leaves_it_untouched(tmp_path: Path) -> None:
    model = create_model("googlenet").train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diagram(model, tmp_path / "g.svg", input_size=(3, 64, 64))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
