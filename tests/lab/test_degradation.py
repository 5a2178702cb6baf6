from __future__ import annotations

import json

import pytest
from tiny_data import LAB

import resnets.lab.studies.degradation as study
from resnets.lab import degradation, load_result


def test_every_net_trains_in_its_own_run_folder_and_the_json_matches_its_metrics(degradation_run):
    result = load_result(degradation_run)
    nets = result.numbers["nets"]
    assert [n["model"] for n in nets] == ["plain8", "resnet8"]
    for n in nets:
        folder = degradation_run / n["run"]
        metrics = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        assert n["train_err"] == [m["train_err"] for m in metrics]
        assert n["test_err"] == [m["test_err"] for m in metrics]
        assert n["epochs"] == 2 and (folder / "last.safetensors").is_file()
        assert n["config"]["batch_size"] == 64 and n["config"]["test_each_epoch"] is True
    assert result.settings["depths"] == [8] and result.scale["width"] == 4
    assert (degradation_run / "report.html").is_file() and (degradation_run / "report.md").is_file()


def test_the_figure_draws_the_errors_of_the_json(tmp_path, saved_figures):
    nets = [
        {"model": "plain8", "label": "plain-8", "residual": False, "depth": 8, "epoch": [1, 2],
         "train_err": [0.5, 0.25], "test_err": [0.6, 0.3]},
        {"model": "resnet8", "label": "ResNet-8", "residual": True, "depth": 8, "epoch": [1, 2],
         "train_err": [0.4, 0.2], "test_err": [0.5, None]},
    ]
    study.plot_errors(nets, tmp_path / "d.png")
    plain_ax, res_ax = saved_figures["d.png"].axes
    lines = {line.get_label(): list(line.get_ydata()) for ax in (plain_ax, res_ax) for line in ax.lines}
    assert lines["plain-8 train"] == pytest.approx([50, 25])
    assert lines["plain-8 test"] == pytest.approx([60, 30])
    assert lines["ResNet-8 train"] == pytest.approx([40, 20])
    assert lines["ResNet-8 test"][0] == pytest.approx(50)
    assert {line.get_label() for line in plain_ax.lines} == {"plain-8 train", "plain-8 test"}


def test_conclusions_follow_the_numbers():
    def net(model, residual, depth, errors):
        return {"model": model, "label": model, "residual": residual, "depth": depth, "epochs": 2,
                "train_err": errors, "final_train_err": errors[-1], "final_test_err": errors[-1]}

    degraded = study.conclusions([net("p20", False, 20, [0.7, 0.2]), net("p56", False, 56, [0.9, 0.5]),
                                  net("r20", True, 20, [0.6, 0.15]), net("r56", True, 56, [0.6, 0.1])])
    assert "degradation" in degraded[0] and "depth helps" in degraded[2]
    healthy = study.conclusions([net("p20", False, 20, [0.7, 0.4]), net("p56", False, 56, [0.9, 0.3])])
    assert "no degradation" in healthy[0]


def test_an_interrupted_study_resumes_the_unfinished_net(tmp_path, monkeypatch):
    real_train = study.train
    calls = []

    def interrupted_train(spec, *args, **kwargs):
        calls.append((spec.name, kwargs["resume"]))
        kwargs["checkpoint_every"] = 0
        if spec.name == "resnet8" and not kwargs["resume"]:
            def stop(record):
                if record["epoch"] == 1:
                    raise KeyboardInterrupt
            kwargs["on_epoch_end"] = stop
        return real_train(spec, *args, **kwargs)

    monkeypatch.setattr(study, "train", interrupted_train)
    with pytest.raises(KeyboardInterrupt):
        degradation("8", budget=2, out=tmp_path, progress=False, batch_size=64, **LAB)
    finished = (tmp_path / "plain8" / "result.json").stat().st_mtime_ns
    result = degradation("8", budget=2, out=tmp_path, progress=False, batch_size=64, **LAB)
    assert calls == [("plain8", False), ("resnet8", False), ("resnet8", True)]
    assert (tmp_path / "plain8" / "result.json").stat().st_mtime_ns == finished
    assert [n["epochs"] for n in result.numbers["nets"]] == [2, 2]
