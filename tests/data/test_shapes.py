"""The embedded default: deterministic, balanced, independent splits, and hard for a linear model."""

from __future__ import annotations

import pytest
import torch

from resnets.data import DATA_SOURCES, ImageSet, load_data
from resnets.data.shapes import CLASSES, MEAN, STD, generate
from resnets.errors import ResnetsError


@pytest.fixture(scope="module")
def small() -> object:
    return load_data("shapes", n_train=1200, n_val=120, n_test=240, seed=3)


def test_default_is_shapes_with_the_stated_sizes() -> None:
    assert "shapes" in DATA_SOURCES
    bundle = load_data(None, n_train=60, n_val=6, n_test=12)
    assert bundle.name == "shapes" and bundle.classes == CLASSES
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (60, 6, 12)
    assert bundle.input_size == (3, 32, 32)
    assert bundle.preprocessing.mean == MEAN and bundle.preprocessing.std == STD


def test_shapes_dtypes_and_size_option() -> None:
    split = generate(12, size=64)
    assert isinstance(split, ImageSet)
    assert split.images.shape == (12, 3, 64, 64) and split.images.dtype == torch.uint8
    assert split.labels.dtype == torch.int64 and int(split.labels.max()) < len(CLASSES)
    assert load_data("shapes", size="64", n_train=6, n_val=0, n_test=0).input_size == (3, 64, 64)


def test_same_seed_same_images_other_seed_other_images() -> None:
    a, b, c = generate(200, seed=7), generate(200, seed=7), generate(200, seed=8)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)


def test_splits_are_independent(small) -> None:
    rows = {split: {bytes(img.numpy()) for img in getattr(small, split).images} for split in ("train", "val", "test")}
    assert len(rows["train"]) == len(small.train)
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    assert not torch.equal(small.val.images[:10], small.test.images[:10])


def test_classes_are_balanced(small) -> None:
    assert small.train.labels.bincount(minlength=6).tolist() == [200] * 6
    assert small.test.labels.bincount(minlength=6).tolist() == [40] * 6


def test_pixel_statistics_match_the_fixed_constants(small) -> None:
    x = small.train.images.float().div(255).permute(1, 0, 2, 3).reshape(3, -1)
    assert torch.allclose(x.mean(1), torch.tensor(MEAN), atol=0.02)
    assert torch.allclose(x.std(1), torch.tensor(STD), atol=0.02)


def test_a_linear_classifier_does_poorly() -> None:
    bundle = load_data("shapes", n_train=3000, n_val=0, n_test=1200, seed=1)
    norm = bundle.preprocessing.normalize
    x, y = norm(bundle.train.images).flatten(1), bundle.train.labels
    model = torch.nn.Linear(x.shape[1], len(CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        for idx in torch.randperm(len(y)).split(128):
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        accuracy = (model(norm(bundle.test.images).flatten(1)).argmax(1) == bundle.test.labels).float().mean()
    assert accuracy < 0.40


def test_options_are_checked() -> None:
    with pytest.raises(ResnetsError, match="colour"):
        load_data("shapes", colour=3)
    with pytest.raises(ResnetsError, match="n_train"):
        load_data("shapes", n_train=-1)
    with pytest.raises(ResnetsError, match="no folder"):
        load_data("shapes:/tmp")


def test_limit_and_val_fraction(small) -> None:
    bundle = load_data("shapes", n_train=600, n_val=0, n_test=60, val_fraction=0.2, limit=300)
    assert len(bundle.val) == 120 and len(bundle.train) == 300 and len(bundle.test) == 60
    assert bundle.val.labels.bincount().tolist() == [20] * 6
    assert bundle.train.labels.bincount().tolist() == [50] * 6


@pytest.mark.parametrize("bad", [0, 1, "half", -0.1])
def test_val_fraction_is_checked(bad) -> None:
    with pytest.raises(ResnetsError, match="val_fraction must be a number between 0 and 1"):
        load_data("shapes", n_train=12, n_val=0, n_test=0, val_fraction=bad)


def test_train_on_train_plus_val_works_for_any_source_with_a_validation_split() -> None:
    plain = load_data("shapes", n_train=60, n_val=12, n_test=6)
    merged = load_data("shapes", n_train=60, n_val=12, n_test=6, train_on="train+val")
    assert len(merged.train) == 72 and merged.val is None
    assert torch.equal(merged.train.images[60:], plain.val.images)
    no_val = load_data("shapes", n_train=60, n_val=0, n_test=6, train_on="train+val")
    assert len(no_val.train) == 60 and no_val.val is None
    with pytest.raises(ResnetsError, match="train_on must be train or train"):
        load_data("shapes", n_train=6, n_val=0, n_test=0, train_on="all")
