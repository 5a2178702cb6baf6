"""Export: ONNX (checked by onnx.checker and onnxruntime) and ``torch.export`` round trips for resnet20 and
resnet50_course, safetensors, and the refusals (bad suffix, missing onnx, a result off by more than 1e-4).

The dynamo ONNX exporter takes 4-8 s a model here, so there is one ONNX export in this module (the course
model) and one in tests/cli/test_cli_interop.py (resnet20, dynamic batch)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import resnets
from resnets.data.preprocess import Preprocessing
from resnets.interop import export
from resnets.models import create_model as bare_model
from resnets.training import load_checkpoint, save_checkpoint

COURSE_PRE = Preprocessing((64, 64), scale=1 / 255)
export_module = importlib.import_module("resnets.interop.export")


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """resnet20 and resnet50_course checkpoints with fixed weights (the course one with its preprocessing)."""
    folder = tmp_path_factory.mktemp("ckpt")
    return {
        "resnet20": save_checkpoint(folder / "resnet20.safetensors", bare_model("resnet20"), classes=[]),
        "resnet50_course": save_checkpoint(folder / "course.safetensors", bare_model("resnet50_course"),
                                           classes=list("012345"), preprocessing=COURSE_PRE),
    }


def test_onnx_of_the_course_model_matches_pytorch(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    import onnx
    import onnxruntime

    out = tmp_path / "course.onnx"
    result = export(checkpoints["resnet50_course"], format="onnx", out=out)
    assert result.max_abs_diff <= 1e-4 and not result.random_init and result.input_size == (3, 64, 64)
    assert not list(tmp_path.glob("*.data")), "the weights belong inside the one .onnx file"
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto)
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["resnets.preprocessing"])["scale"] == pytest.approx(1 / 255)
    assert json.loads(props["resnets.classes"]) == list("012345")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = load_checkpoint(checkpoints["resnet50_course"]).build()(x).numpy()
    (got,) = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.parametrize(("name", "dynamic"), [("resnet20", True), ("resnet50_course", False)])
def test_torch_export_round_trip(name: str, dynamic: bool, checkpoints: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / f"{name}.pt2"
    result = export(checkpoints[name], format="torch-export", out=out, dynamic_batch=dynamic)
    assert result.max_abs_diff <= 1e-4 and result.dynamic_batch is dynamic
    program = torch.export.load(str(out))  # our own file: .pt2 loading unpickles, never load strangers' files
    model = load_checkpoint(checkpoints[name]).build()
    x = torch.randn(3 if dynamic else 2, *model.spec.input_size)
    with torch.no_grad():
        assert (program.module()(x) - model(x)).abs().max() <= 1e-4


def test_safetensors_export_of_a_zoo_name_says_random(tmp_path: Path) -> None:
    result = export("resnet20", format="safetensors", out=tmp_path / "r20.safetensors", input_size="3x16x16")
    assert result.random_init and result.input_size == (3, 16, 16)
    assert load_checkpoint(result.path).spec.name == "resnet20"


def test_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(resnets.ResnetsError, match=r"another suffix .*\(\.pt2\)"):
        export("resnet20", format="torch-export", out=tmp_path / "r20.onnx")
    with pytest.raises(resnets.ResnetsError, match="format must be one of"):
        export("resnet20", format="tflite", out=tmp_path / "r20.tflite")
    real_find_spec = export_module.importlib.util.find_spec
    monkeypatch.setattr(export_module.importlib.util, "find_spec",
                        lambda name: None if name == "onnxruntime" else real_find_spec(name))
    with pytest.raises(resnets.ResnetsError, match=r"needs onnxruntime: pip install resnets\[onnx\]"):
        export("resnet20", format="onnx", out=tmp_path / "r20.onnx")


def test_an_export_off_by_more_than_the_tolerance_fails_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)
    out = tmp_path / "r20.pt2"
    with pytest.raises(resnets.ResnetsError, match=r"differs from PyTorch by .* the file was removed"):
        export("resnet20", format="torch-export", out=out)
    assert not out.exists()
