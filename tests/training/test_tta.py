"""Test-time augmentation: the views, their average in evaluation, and a run whose figure evaluate and predict
reproduce."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from tiny_data import FAST, make_split
from torch import nn

from resnets import ResnetsError
from resnets.cli import main
from resnets.data import tta_views
from resnets.data.augment import shift
from resnets.serving import predict
from resnets.serving.backends import make_backend
from resnets.training import evaluate, load_checkpoint, resolve_config, train
from resnets.training.checkpoint import LAST
from resnets.training.metrics import evaluate_batches


def test_views_are_the_batch_its_mirror_and_their_one_pixel_shifts() -> None:
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    (only,) = tta_views(x, "none")
    assert only is x
    plain, mirror = tta_views(x, "flip")
    assert torch.equal(plain, x) and torch.equal(mirror, x.flip(3))
    views = tta_views(x, "flip+shift")
    assert len(views) == 6
    assert torch.equal(views[2], shift(x, 1, 1)) and torch.equal(views[5], shift(x.flip(3), -1, -1))
    moved = shift(x, 1, 1)
    assert torch.equal(moved[:, :, 1:, 1:], x[:, :, :-1, :-1])
    assert torch.equal(moved[:, :, 0, 1:], x[:, :, 1, :-1])  # the reflected top row
    assert torch.equal(shift(x, -1, -1)[:, :, :-1, :-1], x[:, :, 1:, 1:])
    with pytest.raises(ValueError, match="unknown test-time augmentation 'rot'"):
        tta_views(x, "rot")


def test_shift_views_are_the_batch_and_its_eight_two_pixel_moves() -> None:
    x = torch.arange(2 * 3 * 7 * 7, dtype=torch.float32).view(2, 3, 7, 7)
    views = tta_views(x, "shift")
    assert len(views) == 9 and views[0] is x
    moves = {(down, right) for down in (-2, 0, 2) for right in (-2, 0, 2)}
    for down, right in moves - {(0, 0)}:
        assert sum(torch.equal(v, shift(x, down, right)) for v in views) == 1
    assert not any(torch.equal(v, x.flip(3)) for v in views)


class LeftHeavy(nn.Module):
    """Scores that tell a picture from its mirror image: class 0 likes bright left halves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x[..., : x.shape[3] // 2].mean((1, 2, 3)), x[..., x.shape[3] // 2:].mean((1, 2, 3))
        return torch.stack([left - right, right - left, torch.zeros_like(left)], 1) * 3


def test_evaluation_averages_the_softmax_over_the_views() -> None:
    torch.manual_seed(0)
    x, y = torch.rand(10, 3, 8, 8), torch.randint(0, 3, (10,))
    model = LeftHeavy()
    plain = evaluate_batches(model, [(x, y)], 3)
    flipped = evaluate_batches(model, [(x, y)], 3, tta="flip")
    probs = (model(x).softmax(1) + model(x.flip(3)).softmax(1)) / 2
    assert flipped.loss == pytest.approx(float(-probs[torch.arange(10), y].log().mean()), rel=1e-5)
    assert flipped.top1 == pytest.approx(float((probs.argmax(1) == y).float().mean()))
    assert flipped.top1 != plain.top1 or flipped.loss != pytest.approx(plain.loss)
    assert plain.loss == pytest.approx(float(nn.functional.cross_entropy(model(x), y)), rel=1e-5)


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import tiny_data

    tiny_data.register()
    out = tmp_path_factory.mktemp("tta") / "run"
    train("resnet20", "tiny", out=out, tta="flip", precision="fp32", **{**FAST, "epochs": 1})
    return out


def test_a_run_with_views_is_reproduced_by_evaluate_and_predict(tta_run: Path, tmp_path: Path) -> None:
    result = json.loads((tta_run / "result.json").read_text())
    again = evaluate(tta_run / LAST, out=tmp_path)
    assert again.tta == "flip" and again.metrics.top1 == pytest.approx(result["test"]["top1"])
    assert again.metrics.loss == pytest.approx(result["test"]["loss"], rel=1e-4)
    assert evaluate(tta_run / LAST, out=tmp_path, tta="none").tta == "none"

    split = make_split(4, 5)
    for i, img in enumerate(split.images):
        Image.fromarray(img.permute(1, 2, 0).numpy()).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    ckpt = load_checkpoint(tta_run / LAST)
    single = make_backend(ckpt, "torch", device="cpu")
    x = ckpt.preprocessing.normalize(torch.stack([ckpt.preprocessing.load(f) for f in files]))
    expected = (single(x) + single(x.flip(3))) / 2
    got = predict(tta_run / LAST, files, top_k=1, backend="torch", device="cpu")
    for row, r in zip(expected, got, strict=True):
        label, p = r.top[0]
        assert label == ckpt.classes[int(row.argmax())] and p == pytest.approx(float(row.max()), abs=1e-5)
    assert predict(tta_run / LAST, files[:1], top_k=1, backend="torch", device="cpu", tta="none")[0].top[0][1] \
        == pytest.approx(float(single(x[:1]).max()), abs=1e-5)


def test_cli_evaluate_takes_tta_and_reports_it(tta_run: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tta_run), "--tta", "flip+shift", "--out", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tta"] == "flip+shift"


def test_an_unknown_tta_is_one_sentence(tta_run: Path) -> None:
    with pytest.raises(ResnetsError, match="tta must be one of none, flip, shift, flip\\+shift, not .mirror."):
        resolve_config(tta="mirror")
    with pytest.raises(ResnetsError, match="unknown test-time augmentation 'mirror'"):
        evaluate(tta_run, tta="mirror")
    with pytest.raises(ResnetsError, match="unknown test-time augmentation 'mirror'"):
        predict(tta_run, [tta_run / "curves.png"], tta="mirror")
