from __future__ import annotations

import base64
import html

import pytest
from tiny_data import LAB

from resnets.cli import main
from resnets.lab import identity, load_result, report


def test_a_report_embeds_every_figure_and_states_the_conclusions(degradation_run, tmp_path):
    other = identity("8,14", steps=10, out=tmp_path / "identity", **LAB)
    page = report([degradation_run, tmp_path / "identity"], out=tmp_path / "report")
    text = page.read_text()
    for folder in (degradation_run, tmp_path / "identity"):
        result = load_result(folder)
        for figure in result.figures:
            encoded = base64.b64encode((folder / figure.file).read_bytes()).decode()
            assert encoded in text
        assert result.command in text
    assert all(html.escape(c) in text for c in other.conclusions)
    assert "http://" not in text and "https://" not in text  # self-contained
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "![" in markdown and (tmp_path / "report" / "figures" / "degradation-degradation.png").is_file()


def test_reporting_a_folder_without_a_result_names_the_fix(tmp_path):
    with pytest.raises(ValueError, match="no lab result"):
        report([tmp_path])


def test_the_cli_runs_a_study_and_reports_bad_input_in_one_line(tmp_path, capsys):
    assert main(["lab", "identity", "--depths", "8,14", "--data", "tiny", "--width", "4", "--device", "cpu",
                 "--steps", "10", "--out", str(tmp_path / "i")]) == 0
    out = capsys.readouterr().out
    assert "bitwise equal" in out and (tmp_path / "i" / "report.html").is_file()
    assert main(["lab", "identity", "--depths", "8,13", "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "6n + 2" in err[0]
    assert main(["lab", "report", str(tmp_path / "i"), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "report.html").is_file()
