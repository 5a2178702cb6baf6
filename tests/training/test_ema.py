"""The EMA of the weights: the average itself, and a run that evaluates, saves and resumes it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_data import FAST
from torch import nn

from resnets import ResnetsError
from resnets.training import evaluate, load_checkpoint, train
from resnets.training.checkpoint import LAST
from resnets.training.ema import WeightAverage


def test_the_average_follows_the_warmed_up_decay_and_copies_buffers() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = WeightAverage(model, decay=0.5)
    expected = [p.detach().clone() for p in model.parameters()]
    for n in range(5):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
            model[1].running_mean.add_(1.0)
        decay = min(0.5, (1 + n) / (10 + n))
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, model.parameters(), strict=True)]
        ema.update()
    for e, a in zip(expected, ema.module.parameters(), strict=True):
        torch.testing.assert_close(a, e)
    assert torch.equal(ema.module[1].running_mean, model[1].running_mean)
    assert not any(p.requires_grad for p in ema.module.parameters())
    assert ema.state_dict() == {"updates": 5}


def test_a_decay_outside_zero_and_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        WeightAverage(nn.Linear(2, 2), decay=1.0)
    with pytest.raises(ResnetsError, match="ema is a decay"):
        train("resnet20", "tiny", out=tmp_path / "r", ema=1.5, **FAST)


def test_a_run_with_ema_evaluates_and_saves_the_average(tmp_path: Path) -> None:
    result = train("resnet20", "tiny", out=tmp_path / "run", ema=0.9, **FAST)
    ckpt = load_checkpoint(tmp_path / "run" / LAST, train_state=True)
    raw = ckpt.train_state["model"]
    saved = ckpt.weights
    assert ckpt.train_state["ema"]["updates"] == result.history[-1]["step"]
    weight = "layer1.0.conv1.weight"
    assert not torch.equal(saved[weight], raw[weight])
    assert torch.equal(saved[weight], result.model.state_dict()[weight].contiguous())
    again = evaluate(tmp_path / "run" / LAST, "tiny", precision="fp32")
    assert again.metrics.top1 == pytest.approx(result.test["top1"], abs=1.5 / result.test["count"])


def test_resume_with_ema_ends_with_the_same_weights_and_average(tmp_path: Path) -> None:
    options = dict(FAST, epochs=3, ema=0.9, plots=False)
    train("resnet20", "tiny", out=tmp_path / "straight", **options)

    class StopRunError(Exception):
        pass

    def stop_after_first(record: dict) -> None:
        if record["epoch"] == 1:
            raise StopRunError

    with pytest.raises(StopRunError):
        train("resnet20", "tiny", out=tmp_path / "stopped", on_epoch_end=stop_after_first, **options)
    train("resnet20", "tiny", out=tmp_path / "stopped", resume=True, **options)

    a = load_checkpoint(tmp_path / "straight" / LAST, train_state=True)
    b = load_checkpoint(tmp_path / "stopped" / LAST, train_state=True)
    for key in a.weights:
        assert torch.equal(a.weights[key], b.weights[key]), key
        assert torch.equal(a.train_state["model"][key], b.train_state["model"][key]), key


def test_resuming_with_a_different_ema_setting_is_refused(tmp_path: Path) -> None:
    train("resnet20", "tiny", out=tmp_path / "run", **dict(FAST, epochs=1, plots=False))
    with pytest.raises(ResnetsError, match="EMA"):
        train("resnet20", "tiny", out=tmp_path / "run", resume=True, **dict(FAST, epochs=2, ema=0.9, plots=False))
