from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from resnets.lab import landscape
from resnets.lab.studies.landscape import filter_normalised_direction, loss_surface, shape_measures
from resnets.lab.trained import find_runs


def test_the_surface_is_centred_on_the_trained_loss_and_leaves_the_weights_alone(degradation_run, tmp_path,
                                                                                  saved_figures):
    result = landscape(degradation_run, grid=3, images=64, out=tmp_path, device="cpu", precision="fp32")
    surfaces = result.numbers["surfaces"]
    assert result.numbers["coords"] == [-1.0, 0.0, 1.0]
    net = find_runs(degradation_run)["resnet8"]
    model = net.model()
    bundle = net.data()
    from resnets.lab.context import fixed_batches, make_context

    ctx = make_context("check", out=tmp_path / "check", data=None, width=None, seed=0, quick=False, device="cpu",
                       precision="fp32")
    batches = fixed_batches(bundle.train, bundle, ctx, count=64, batch_size=256, shuffle=True)
    with torch.no_grad():
        direct = sum(float(F.cross_entropy(model(x), y, reduction="sum")) for x, y in batches) / 64
    res = next(s for s in surfaces if s["model"] == "resnet8")
    assert res["loss"][1][1] == pytest.approx(direct, rel=1e-5)
    assert res["centre_loss"] == res["loss"][1][1]
    assert len(result.figures) == 2 and all((tmp_path / f.file).is_file() for f in result.figures)
    assert "landscape-contours.png" in saved_figures


def test_directions_are_filter_normalised_and_skip_norm_parameters(degradation_run):
    model = find_runs(degradation_run)["resnet8"].model()
    d = filter_normalised_direction(model, torch.Generator().manual_seed(0))
    params = dict(model.named_parameters())
    assert "bn1.weight" not in d and "fc.bias" not in d and "conv1.weight" in d
    for name, direction in d.items():
        dims = tuple(range(1, direction.ndim))
        assert torch.allclose(torch.linalg.vector_norm(direction, dim=dims),
                              torch.linalg.vector_norm(params[name].detach(), dim=dims), rtol=1e-5)


def test_shape_measures_tell_a_bowl_from_a_rough_surface():
    xs = torch.linspace(-1, 1, 7)
    bowl = (xs[:, None] ** 2 + xs[None, :] ** 2).tolist()
    rough = (torch.cos(6 * xs)[:, None] * torch.cos(6 * xs)[None, :]).tolist()
    assert shape_measures(bowl)["convex_fraction"] == 1.0 and shape_measures(bowl)["local_minima"] == 1
    assert shape_measures(rough)["local_minima"] > 1


def test_loss_surface_restores_weights_after_an_error(degradation_run):
    model = find_runs(degradation_run)["plain8"].model()
    before = {k: v.clone() for k, v in model.state_dict().items()}

    def broken():
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        loss_surface(model, [(torch.rand(2, 3, 16, 16), torch.tensor([0, 1]))], [0.0, 1.0], seed=0,
                     autocast=broken)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
