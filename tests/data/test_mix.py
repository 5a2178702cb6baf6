"""Mixup and CutMix: mixed images, matching probability targets, and draws that replay with a seed."""

from __future__ import annotations

import random

import pytest
import torch

from resnets.data import Mix
from resnets.data.augment import paste_box


def _batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 16, 16).contiguous()
    return x.contiguous(memory_format=torch.channels_last), torch.arange(n) % 4


def test_mixup_blends_whole_images_and_keeps_the_memory_format() -> None:
    x, y = _batch()
    mixed, target = Mix(mixup=0.4)(x, y, 4, random.Random(3))
    assert torch.allclose(target.sum(1), torch.ones(8))
    assert all(torch.all(mixed[i] == mixed[i, 0, 0, 0]) for i in range(8)), "a blend, not a patch"
    assert mixed.is_contiguous(memory_format=torch.channels_last)


def test_mixup_values_match_the_drawn_lambda() -> None:
    x, y = _batch(4)
    y = torch.arange(4)  # four classes, one image each: the target names the partner exactly
    mixed, target = Mix(mixup=1.0)(x, y, 4, random.Random(0))
    for i in range(4):
        weights = target[i]
        expected = sum(weights[j] * j for j in range(4))
        assert mixed[i, 0, 0, 0] == pytest.approx(float(expected), abs=1e-5)
        assert int((weights > 0).sum()) in (1, 2)


def test_cutmix_pastes_one_box_and_the_target_is_its_area_share() -> None:
    x, y = _batch(4)
    y = torch.arange(4)
    mixed, target = Mix(cutmix=1.0)(x, y, 4, random.Random(5))
    assert not torch.equal(mixed, x), "this seed pastes a box"
    for i in range(4):
        pasted = mixed[i, 0] != i
        kept = 1 - float(pasted.float().mean())
        if kept == 1:  # an empty box, or the image drew itself as its partner
            assert target[i, i] == pytest.approx(1.0)
            continue
        partner = int(mixed[i, 0][pasted][0])
        assert target[i, i] == pytest.approx(kept) and target[i, partner] == pytest.approx(1 - kept)
        rows, cols = torch.nonzero(pasted, as_tuple=True)
        assert len(rows) == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1), "one rectangle"


def test_paste_box_clips_at_the_border() -> None:
    x, _ = _batch(2)
    out, lam = paste_box(x, torch.tensor([1, 0]), 0.0, random.Random(1))
    covered = float((out[0, 0] == 1).float().mean())
    assert lam == pytest.approx(1 - covered) and 0 < covered <= 1


def test_both_on_picks_one_kind_per_batch_and_a_seed_replays() -> None:
    x, y = _batch()
    mix = Mix(mixup=0.2, cutmix=1.0)
    kinds = set()
    for seed in range(12):
        a = mix(x, y, 4, random.Random(seed))
        b = mix(x, y, 4, random.Random(seed))
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        whole_images = all(torch.all(a[0][i] == a[0][i, 0, 0, 0]) for i in range(8))
        kinds.add("mixup" if whole_images else "cutmix")
    assert kinds == {"mixup", "cutmix"}
    assert not Mix().active and Mix(cutmix=1.0).active
