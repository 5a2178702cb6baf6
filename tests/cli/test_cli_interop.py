"""``resnets convert`` and ``resnets export``: thin commands, one-line errors, exit status 2 on bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from resnets.cli import main
from resnets.models import create_model
from resnets.training import load_checkpoint


@pytest.fixture(scope="module")
def resnet20_pth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w") / "resnet20.pth"
    torch.save(create_model("resnet20").state_dict(), path)
    return path


def test_convert_pth_to_checkpoint(resnet20_pth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dst = tmp_path / "r20.safetensors"
    assert main(["convert", str(resnet20_pth), str(dst), "--model", "resnet20"]) == 0
    out = capsys.readouterr().out
    assert "as resnet20 with 10 classes" in out and f"wrote {dst} (resnets checkpoint)" in out
    assert "preprocessing: none recorded" in out
    assert load_checkpoint(dst).spec.name == "resnet20"


def test_convert_json_names_the_detected_model(resnet20_pth: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(resnet20_pth), str(tmp_path / "r20.pt"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "resnet20" and data["source_format"] == "torch"
    assert any("plain20" in note for note in data["notes"])


def test_export_onnx_with_dynamic_batch(resnet20_pth: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import onnxruntime

    ckpt = tmp_path / "r20.safetensors"
    assert main(["convert", str(resnet20_pth), str(ckpt)]) == 0
    out = tmp_path / "r20.onnx"
    assert main(["export", str(ckpt), "--format", "onnx", "--out", str(out), "--dynamic-batch"]) == 0
    text = capsys.readouterr().out
    assert "dynamic batch" in text and "max |onnxruntime - PyTorch| =" in text
    diff = float(text.split("max |onnxruntime - PyTorch| = ")[1].split()[0])
    assert diff <= 1e-4
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 32, 32)
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        expected = load_checkpoint(ckpt).build()(x)
    assert (torch.from_numpy(got) - expected).abs().max() <= 1e-4


def test_export_of_a_zoo_name_says_its_weights_are_random(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "resnet20", "--format", "torch-export", "--out", str(tmp_path / "r20.pt2"),
                 "--input", "3x16x16"]) == 0
    out = capsys.readouterr().out
    assert "resnet20 has random weights" in out and "input 3x16x16" in out


class RunsCode:
    def __reduce__(self) -> tuple:
        return (os.system, ("echo ran > ran.txt",))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["convert", "{tmp}/evil.pth", "{tmp}/x.safetensors"], "needs unpickling of arbitrary Python objects"),
        (["convert", "{pth}", "{tmp}/x.onnx"], "has an unknown suffix"),
        (["convert", "{pth}", "{tmp}/x.safetensors", "--model", "resnet56"], "do not fit resnet56"),
        (["convert", "{pth}", "{tmp}/x.weights.h5"], "resnet20 has no Keras layout"),
        (["export", "resnet5", "--format", "onnx", "--out", "{tmp}/x.onnx"], "unknown model 'resnet5'"),
        (["export", "resnet20", "--format", "onnx", "--out", "{tmp}/x.pt2"], "has another suffix"),
        (["export", "{tmp}/missing.safetensors", "--format", "onnx", "--out", "{tmp}/x.onnx"],
         "no checkpoint or weight file at"),
    ],
)
def test_bad_input_gets_one_line_and_exit_status_2(
    argv: list[str], message: str, resnet20_pth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save({"conv1.weight": torch.zeros(1), "x": RunsCode()}, tmp_path / "evil.pth")
    argv = [a.format(tmp=tmp_path, pth=resnet20_pth) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "ran.txt").exists()
