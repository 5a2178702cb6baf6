"""``resnets train / evaluate / predict``: thin over the functions, one-line errors with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tiny_data

from resnets.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    tiny_data.register()
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = ["train", "--data", "tiny", "--epochs", "2", "--lr", "0.05", "--batch-size", "64", "--out", str(out),
            "--no-progress", "--set", "workers=0", "--set", "eval_batch_size=128"]
    assert main(argv) == 0
    return out


def test_train_then_evaluate_and_predict(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (run / "best.safetensors").exists()
    assert main(["evaluate", str(run), "--json", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["count"] == 128 and result["top1"] >= 0.9 and not result["recalibrated_bn"]
    assert main(["evaluate", str(run), "--recalibrate-bn", "--out", str(tmp_path)]) == 0
    assert "BatchNorm statistics recomputed" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--json", "--precision", "bf16", "--recalibrate-bn", "--recalibrate-batches",
                 "2", "--out", str(tmp_path)]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert fast["precision"] == "bf16" and fast["recalibrated_bn"] and fast["top1"] >= 0.9
    from PIL import Image

    img = tiny_data.make_split(1, 5)
    Image.fromarray(img.images[0].permute(1, 2, 0).numpy()).save(tmp_path / "x.png")
    assert main(["predict", str(run), str(tmp_path / "x.png"), "--top", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out[0]["top"]) == 3 and out[0]["top"][0]["label"] == f"c{int(img.labels[0])}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--data", "tiny", "--set", "lernrate=1"], "unknown key 'lernrate'"),
        (["train", "--data", "tiny", "--set", "lr=fast"], "lr must be a number, not 'fast'"),
        (["train", "--data", "tiny", "--set", "epochs=2.5"], "epochs must be a whole number, not 2.5"),
        (["train", "--model", "resnet5", "--data", "tiny"], "unknown model 'resnet5'"),
        (["evaluate", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["predict", "/nonexistent/run", "x.png"], "no checkpoint at"),
    ],
)
def test_bad_input_is_one_line_with_status_2(argv: list[str], message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    tiny_data.register()
    assert main([*argv[:1], *argv[1:], *(["--out", str(tmp_path / "o")] if argv[0] == "train" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_predict_names_a_corrupt_image(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0not really a jpeg")
    assert main(["predict", str(run), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.jpg" in err and err.count("\n") == 1


def test_evaluate_refuses_data_with_another_class_count(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tiny_data.register()
    assert main(["evaluate", str(run), "--data", "tiny3"]) == 2
    assert "trained on 4 classes but tiny3 has 3" in capsys.readouterr().err


def test_train_help_lists_every_config_key(capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import fields

    from resnets.training import TrainConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(f.name in text for f in fields(TrainConfig)) and "tta" in text
