"""``signs:DIR``: the real folder as it is (JPEGs + the official test h5), a train h5 when present, bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from resnets.data import ImageSet, load_data
from resnets.errors import ResnetsError

FIRST_TEST_LABELS = [0, 0, 0, 5, 1, 0, 3, 1, 5, 1, 5, 1, 3, 1, 1, 3, 5, 4, 0, 4]


@pytest.fixture(scope="module")
def signs_dir(shared_data: Path) -> Path:
    folder = shared_data / "signs"
    if not folder.is_dir():
        pytest.skip(f"SIGNS not found at {folder}")
    return folder


def write_h5(path: Path, prefix: str, x: np.ndarray, y: np.ndarray, *, classes: bool = True) -> None:
    with h5py.File(path, "w") as f:
        f[f"{prefix}_set_x"] = x
        f[f"{prefix}_set_y"] = y
        if classes:
            f["list_classes"] = np.arange(6)


def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8), np.arange(n) % 6


def test_real_folder_as_it_is(signs_dir: Path) -> None:
    bundle = load_data(f"signs:{signs_dir}")
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (864, 216, 120)
    assert bundle.classes == ["0", "1", "2", "3", "4", "5"]
    splits = (bundle.train, bundle.val, bundle.test)
    assert all(isinstance(s, ImageSet) and s.images.dtype == torch.uint8 for s in splits)
    assert bundle.input_size == (3, 64, 64)
    assert bundle.test.labels[:20].tolist() == FIRST_TEST_LABELS
    assert bundle.train.labels.bincount().tolist() == [141, 146, 142, 142, 144, 149]
    assert bundle.preprocessing.scale == pytest.approx(1 / 255)
    assert bundle.preprocessing.mean == (0.0, 0.0, 0.0) and bundle.preprocessing.std == (1.0, 1.0, 1.0)


def test_train_on_train_plus_val(signs_dir: Path) -> None:
    bundle = load_data(f"signs:{signs_dir}", train_on="train+val")
    assert len(bundle.train) == 1080 and bundle.val is None and len(bundle.test) == 120
    assert bundle.train.labels.bincount().tolist() == [180] * 6


def test_test_set_from_jpegs_without_the_h5(signs_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(signs_dir / "cs230_64x64", tmp_path / "cs230_64x64")
    bundle = load_data(f"signs:{tmp_path}", limit=30)
    assert len(bundle.test) == 30 and len(bundle.train) == 30
    assert bundle.test.labels.bincount().tolist() == [5] * 6


def test_train_h5_is_preferred_to_the_jpegs(signs_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "cs230_64x64").mkdir()
    shutil.copytree(signs_dir / "cs230_64x64" / "val_signs", tmp_path / "cs230_64x64" / "train_signs")
    x, y = fake_images(24)
    write_h5(tmp_path / "train_signs.h5", "train", x, y.reshape(1, -1), classes=False)
    shutil.copy(signs_dir / "test_signs.h5", tmp_path)
    bundle = load_data(f"signs:{tmp_path}")
    assert len(bundle.train) == 24 and bundle.val is None
    assert torch.equal(bundle.train.images, torch.from_numpy(x).permute(0, 3, 1, 2))
    assert bundle.train.labels.tolist() == y.tolist()
    assert bundle.test.labels[:20].tolist() == FIRST_TEST_LABELS


def test_synthetic_h5_pair_and_val_fraction(tmp_path: Path) -> None:
    write_h5(tmp_path / "train_signs.h5", "train", *fake_images(60))
    write_h5(tmp_path / "test_signs.h5", "test", *fake_images(12, seed=1))
    bundle = load_data(f"signs:{tmp_path}", val_fraction=0.2, seed=4)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (48, 12, 12)
    assert bundle.val.labels.bincount().tolist() == [2] * 6


def test_wrong_keys_are_named(tmp_path: Path) -> None:
    with h5py.File(tmp_path / "train_signs.h5", "w") as f:
        f["images"] = np.zeros((2, 64, 64, 3), np.uint8)
        f["y"] = np.zeros(2)
    with pytest.raises(ResnetsError, match=r"train_set_x and train_set_y \(it has: images, y\)"):
        load_data(f"signs:{tmp_path}")


def test_labels_out_of_range(tmp_path: Path) -> None:
    x, _ = fake_images(4)
    write_h5(tmp_path / "train_signs.h5", "train", x, np.array([0, 1, 6, 2]))
    with pytest.raises(ResnetsError, match=r"outside 0..5"):
        load_data(f"signs:{tmp_path}")


def test_not_an_h5_file(tmp_path: Path) -> None:
    (tmp_path / "train_signs.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ResnetsError, match=r"cannot read .*train_signs.h5 as HDF5"):
        load_data(f"signs:{tmp_path}")


def test_folder_mistakes(tmp_path: Path) -> None:
    with pytest.raises(ResnetsError, match="does not exist"):
        load_data(f"signs:{tmp_path / 'nowhere'}")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResnetsError, match="not a directory"):
        load_data(f"signs:{tmp_path / 'file'}")
    with pytest.raises(ResnetsError, match="no SIGNS training data"):
        load_data(f"signs:{tmp_path}")
    with pytest.raises(ResnetsError, match="needs a folder"):
        load_data("signs")
    with pytest.raises(ResnetsError, match="train_on"):
        load_data(f"signs:{tmp_path}", train_on="all")
    with pytest.raises(ResnetsError, match="does not take the option"):
        load_data(f"signs:{tmp_path}", paper_split=True)


def test_jpeg_folder_mistakes(tmp_path: Path) -> None:
    folder = tmp_path / "cs230_64x64" / "train_signs"
    folder.mkdir(parents=True)
    with pytest.raises(ResnetsError, match="holds no images"):
        load_data(f"signs:{tmp_path}")
    (folder / "IMG_1.jpg").write_bytes(b"")
    with pytest.raises(ResnetsError, match="does not start with its label"):
        load_data(f"signs:{tmp_path}")
    (folder / "IMG_1.jpg").unlink()
    (folder / "2_IMG_1.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with pytest.raises(ResnetsError, match=r"2_IMG_1.jpg"):
        load_data(f"signs:{tmp_path}")
