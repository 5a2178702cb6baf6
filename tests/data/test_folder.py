"""``folder:DIR``: class folders of image files, splits from train/val/test subfolders, bad files named."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnets.data import FileImageSet, load_data
from resnets.data.preprocess import IMAGENET_MEAN, IMAGENET_STD
from resnets.errors import ResnetsError


def write_image(path: Path, value: int, size: tuple[int, int] = (20, 12), fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path, format=fmt)


def make_classes(root: Path, counts: dict[str, int]) -> None:
    for index, (name, count) in enumerate(counts.items()):
        for i in range(count):
            write_image(root / name / f"{i}.png", 40 * index + i)


def test_classes_sorted_and_files_filtered(tmp_path: Path) -> None:
    make_classes(tmp_path, {"zebra": 3, "ant": 2, "moth": 4})
    write_image(tmp_path / "ant" / "nested" / "deep.PNG", 7, fmt="PNG")
    write_image(tmp_path / "ant" / ".hidden.png", 7)
    write_image(tmp_path / "ant" / ".cache" / "x.png", 7)
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    (tmp_path / ".git").mkdir()
    bundle = load_data(f"folder:{tmp_path}")
    assert bundle.classes == ["ant", "moth", "zebra"]
    assert isinstance(bundle.train, FileImageSet) and bundle.val is None and bundle.test is None
    assert bundle.train.labels.bincount().tolist() == [3, 4, 3]
    assert all(not p.name.startswith(".") and ".cache" not in p.parts for p in bundle.train.paths)
    image, label = bundle.train[0]
    assert image.shape == (3, 64, 64) and image.dtype == torch.uint8 and label == 0
    assert bundle.preprocessing.mean == IMAGENET_MEAN and bundle.preprocessing.std == IMAGENET_STD
    assert bundle.input_size == (3, 64, 64)


def test_image_size_option(tmp_path: Path) -> None:
    make_classes(tmp_path, {"a": 1, "b": 1})
    for value, expected in ((32, (32, 32)), ("24x16", (24, 16)), ((8, 12), (8, 12)), ("10,20", (10, 20))):
        bundle = load_data(f"folder:{tmp_path}", image_size=value)
        assert bundle.train[0][0].shape == (3, *expected) and bundle.preprocessing.size == expected
    with pytest.raises(ResnetsError, match="image_size"):
        load_data(f"folder:{tmp_path}", image_size="big")


def test_splits_from_subfolders(tmp_path: Path) -> None:
    make_classes(tmp_path / "train", {"cat": 4, "dog": 6})
    make_classes(tmp_path / "val", {"cat": 1, "dog": 2})
    make_classes(tmp_path / "test", {"dog": 3})
    bundle = load_data(f"folder:{tmp_path}", val_fraction=0.5)
    assert bundle.classes == ["cat", "dog"]
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (10, 3, 3)
    assert bundle.test.labels.tolist() == [1, 1, 1]
    assert any("ignored" in note for note in bundle.notes)
    make_classes(tmp_path / "val", {"bird": 1})
    with pytest.raises(ResnetsError, match="bird is a class the training split does not have"):
        load_data(f"folder:{tmp_path}")


def test_flat_folder_val_fraction_and_limit(tmp_path: Path) -> None:
    make_classes(tmp_path, {"a": 10, "b": 10})
    bundle = load_data(f"folder:{tmp_path}", val_fraction=0.2, limit=8, seed=5)
    assert len(bundle.val) == 4 and bundle.val.labels.bincount().tolist() == [2, 2]
    assert len(bundle.train) == 8 and bundle.train.labels.bincount().tolist() == [4, 4]
    assert not set(bundle.train.paths) & set(bundle.val.paths)


def test_truncated_jpeg_is_reported_with_its_path(tmp_path: Path) -> None:
    make_classes(tmp_path, {"a": 2, "b": 2})
    bad = tmp_path / "b" / "broken photo.jpg"
    write_image(bad, 128, size=(64, 64), fmt="JPEG")
    bad.write_bytes(bad.read_bytes()[:300])
    bundle = load_data(f"folder:{tmp_path}")
    index = bundle.train.paths.index(bad)
    with pytest.raises(ResnetsError, match=r"broken photo\.jpg"):
        bundle.train[index]
    with pytest.raises(ResnetsError, match=r"broken photo\.jpg"):
        load_data(f"folder:{tmp_path}", verify=True)


def test_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ResnetsError, match="has no class subfolders"):
        load_data(f"folder:{tmp_path}")
    make_classes(tmp_path, {"a": 1})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(ResnetsError, match=re.escape(f"{tmp_path / 'b'} holds no images")):
        load_data(f"folder:{tmp_path}")
    with pytest.raises(ResnetsError, match="does not take the option"):
        load_data(f"folder:{tmp_path}", size=3)


def test_train_on_train_plus_val_merges_file_splits(tmp_path: Path) -> None:
    make_classes(tmp_path / "train", {"cat": 4, "dog": 6})
    make_classes(tmp_path / "val", {"cat": 1, "dog": 2})
    bundle = load_data(f"folder:{tmp_path}", train_on="train+val")
    assert isinstance(bundle.train, FileImageSet) and bundle.val is None
    assert bundle.train.labels.bincount().tolist() == [5, 8] and len(bundle.train.paths) == 13
