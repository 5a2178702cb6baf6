"""The command line: a thin layer, one-line errors, exit status 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resnets import __version__
from resnets.cli import main
from resnets.cli.options import key_value


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"resnets {__version__}"


def test_models_json_lists_the_zoo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "resnet5*", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["resnet50"]["params"] == 25_557_032
    assert rows["resnet56"]["family"] == "cifar"


def test_summary_prints_the_keras_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet50_course", "--keras"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 23,600,006" in out and "layer4" in out


def test_summary_overrides_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "resnet20", "--set", "num_classes=3", "--input", "3x16x16", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"][-1]["output_shape"] == [1, 3]


def test_set_reads_exponent_numbers_as_numbers() -> None:
    assert key_value("lr=1e-3") == ("lr", 0.001) and key_value("bn_eps=1E-5") == ("bn_eps", 1e-5)
    assert key_value("lr=2.5e-2") == ("lr", 0.025) and key_value("pad=4") == ("pad", 4)
    assert key_value("shortcut=B") == ("shortcut", "B") and key_value("name=e5") == ("name", "e5")
    assert main(["summary", "resnet20", "--set", "drop_path_rate=1e-1", "--json"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["summary", "resnet5"], "unknown model 'resnet5'; closest: resnet56"),
        (["summary", "resnet20", "--input", "3x4"], "an input size is CxHxW"),
        (["summary", "resnet20", "--set", "shortcutt=B"], "did you mean shortcut"),
        (["summary", "resnet20", "--set", "bn_eps=abc"], "cannot apply bn_eps='abc' to resnet20"),
        (["diagram", "resnet20", "--out", "x.txt"], "has another suffix"),
    ],
)
def test_bad_input_gets_one_line_and_exit_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_diagram_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "resnet50_course", "--out", str(tmp_path / "c.svg")]) == 0
    assert (tmp_path / "c.svg").exists()


def test_python_dash_m_and_console_script_work() -> None:
    out = subprocess.run([sys.executable, "-m", "resnets", "summary", "resnet5"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.startswith("resnets: error: unknown model")
