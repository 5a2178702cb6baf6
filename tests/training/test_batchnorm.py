"""Recomputed BatchNorm statistics: what training (``bn_recalibrate``) and ``evaluate(recalibrate=True)`` do."""

from __future__ import annotations

from pathlib import Path

import torch
from tiny_data import FAST, make_split
from torch import nn

from resnets.data import Batches, Preprocessing
from resnets.training import evaluate, train
from resnets.training.batchnorm import recalibrate_bn
from resnets.training.runtime import Runtime


def test_recalibration_sets_running_statistics_to_the_average_of_batch_statistics() -> None:
    conv = nn.Conv2d(3, 4, 3, bias=False)
    bn = nn.BatchNorm2d(4, momentum=0.01)
    model = nn.Sequential(conv, bn).eval()
    pre = Preprocessing((16, 16), mean=(0.3, 0.3, 0.3), std=(0.3, 0.3, 0.3))
    batches = Batches(make_split(96, seed=5), batch_size=32, preprocessing=pre)
    recalibrate_bn(model, batches, max_batches=2, rt=Runtime(torch.device("cpu"), "fp32"))
    with torch.no_grad():
        outs = [conv(x) for x, _ in list(batches)[:2]]
    means = torch.stack([o.mean((0, 2, 3)) for o in outs]).mean(0)
    variances = torch.stack([o.var((0, 2, 3), unbiased=True) for o in outs]).mean(0)
    assert torch.allclose(bn.running_mean, means, atol=1e-5)
    assert torch.allclose(bn.running_var, variances, atol=1e-4)
    assert bn.momentum == 0.01 and not model.training


def test_evaluate_can_recompute_statistics_that_lag_the_weights(tmp_path: Path) -> None:
    run = train("resnet20", "tiny", out=tmp_path / "lagging", bn_momentum=1e-4, **FAST).out
    plain = evaluate(run, out=tmp_path)
    recalibrated = evaluate(run, out=tmp_path, recalibrate=True)
    assert recalibrated.recalibrated_bn and recalibrated.metrics.top1 >= 0.9
    assert recalibrated.metrics.top1 > plain.metrics.top1
    assert evaluate(run, out=tmp_path).metrics.top1 == plain.metrics.top1  # the checkpoint is unchanged
