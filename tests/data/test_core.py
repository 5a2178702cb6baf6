"""The shared core: batch augmentation, the batch iterator (order, coverage, shards, workers), preprocessing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnets.data import Augment, Batches, FileImageSet, ImageSet, Preprocessing, epoch_generator, read_image
from resnets.data.augment import (
    center_crop,
    random_affine,
    random_brightness,
    random_contrast,
    random_crop,
    random_flip,
    random_saturation,
    rotate_zoom,
)
from resnets.data.preprocess import image_to_tensor
from resnets.data.splits import balanced_subset, stratified_holdout
from resnets.errors import ResnetsError


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def indexed_set(n: int) -> ImageSet:
    """Image i is filled with i and labelled i, so a batch tells which samples it holds."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 4, 4).contiguous()
    return ImageSet(images, torch.arange(n))


# --- augment ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("op", [
    lambda x, g: random_crop(x, 4, g),
    lambda x, g: random_crop(x, 4, g, per_sample=False),
    random_flip,
    lambda x, g: random_brightness(x, 0.2, g),
    lambda x, g: random_affine(x, 15, 0.1, g),
    lambda x, g: random_contrast(x, 0.2, g),
    lambda x, g: random_saturation(x, 0.2, g),
    lambda x, g: Augment(pad=2, flip=True, brightness=0.1, rotate=10, scale=0.1, contrast=0.2, saturation=0.2)(x, g),
])
def test_augmentations_keep_shape_and_replay_with_a_seed(op) -> None:
    x = torch.rand(8, 3, 16, 12)
    a, b, c = op(x, gen(1)), op(x, gen(1)), op(x, gen(2))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, c)


def test_contrast_keeps_each_images_mean_grey_and_saturation_keeps_each_pixels_grey() -> None:
    x = torch.rand(8, 3, 6, 6) * 255
    contrasted = random_contrast(x, 0.5, gen(0))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((contrasted * luma).sum(1).mean((1, 2)), (x * luma).sum(1).mean((1, 2)), atol=1e-3)
    assert not torch.allclose(contrasted, x)
    saturated = random_saturation(x, 0.5, gen(0))
    assert torch.allclose((saturated * luma).sum(1), (x * luma).sum(1), atol=1e-3)
    assert not torch.allclose(saturated, x)
    grey = x[:, :1].expand(8, 3, 6, 6)
    assert torch.allclose(random_saturation(grey, 0.5, gen(0)), grey, atol=1e-3)
    assert torch.equal(random_saturation(x[:, :1], 0.5, gen(0)), x[:, :1])


def test_rotate_zoom_turns_and_enlarges_about_the_centre() -> None:
    x = torch.rand(2, 3, 8, 8)
    turned = rotate_zoom(x, torch.tensor([90.0, 0.0]), torch.tensor([1.0, 1.0]))
    assert torch.allclose(turned[0], torch.rot90(x[0], 1, (1, 2)), atol=1e-5)
    assert torch.allclose(turned[1], x[1], atol=1e-5)
    dot = torch.zeros(1, 1, 8, 8)
    dot[..., 3:5, 3:5] = 1
    zoomed = rotate_zoom(dot, torch.tensor([0.0]), torch.tensor([2.0]))
    assert zoomed.sum() > 3.5 * dot.sum() and torch.equal(zoomed[..., 3:5, 3:5], dot[..., 3:5, 3:5])


def test_random_affine_varies_per_image_and_is_off_at_zero() -> None:
    x = torch.rand(1, 3, 16, 16).expand(16, 3, 16, 16)
    each = random_affine(x, 20, 0.1, gen(0))
    assert len({bytes(img.numpy()) for img in each}) == 16
    assert torch.allclose(random_affine(x, 0, 0, gen(0)), x, atol=1e-5)
    assert not Augment(rotate=0, scale=0).active and Augment(rotate=5).active and Augment(scale=0.1).active


def test_per_sample_crop_differs_between_images() -> None:
    x = torch.rand(1, 3, 16, 16).expand(32, 3, 16, 16)
    each = random_crop(x, 4, gen(0))
    assert len({bytes(img.numpy()) for img in each}) > 8
    once = random_crop(x, 4, gen(0), per_sample=False)
    assert all(torch.equal(once[0], img) for img in once)


def test_crop_is_a_shifted_window_and_flip_mirrors() -> None:
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = random_crop(x, 2, gen(3))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")
    for i in range(2):
        assert any(torch.equal(out[i], padded[i, :, r:r + 8, c:c + 8]) for r in range(5) for c in range(5))
    flipped = random_flip(x, gen(0))
    assert all(torch.equal(f, o) or torch.equal(f, o.flip(2)) for f, o in zip(flipped, x, strict=True))
    assert center_crop(x, (4, 6)).shape == (2, 3, 4, 6)
    assert not Augment().active and Augment(flip=True).active


# --- batches over an ImageSet ----------------------------------------------------------------------------

def test_batches_are_normalised() -> None:
    split = ImageSet(torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8), torch.arange(10))
    pre = Preprocessing(size=(4, 4), mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    x, y = next(iter(Batches(split, batch_size=10, preprocessing=pre)))
    assert x.dtype == torch.float32 and torch.equal(y, torch.arange(10))
    mean, std = torch.tensor(pre.mean).view(1, 3, 1, 1), torch.tensor(pre.std).view(1, 3, 1, 1)
    assert torch.allclose(x, (split.images.float() / 255 - mean) / std, atol=1e-6)
    x_cl, _ = next(iter(Batches(split, batch_size=10, preprocessing=pre, channels_last=True)))
    assert x_cl.is_contiguous(memory_format=torch.channels_last)


def epoch_order(batches: Batches, epoch: int) -> list[int]:
    batches.set_epoch(epoch)
    return [int(v) for _, y in batches for v in y]


def test_every_sample_once_per_epoch_and_seeded_orders() -> None:
    pre = Preprocessing(size=(4, 4))
    batches = Batches(indexed_set(53), batch_size=8, preprocessing=pre, shuffle=True, seed=7,
                      augment=Augment(pad=1, flip=True))
    assert len(batches) == 7
    first = epoch_order(batches, 0)
    assert sorted(first) == list(range(53)) and first != list(range(53))
    assert epoch_order(batches, 0) == first
    assert epoch_order(batches, 1) != first
    other = Batches(indexed_set(53), batch_size=8, preprocessing=pre, shuffle=True, seed=7)
    assert epoch_order(other, 0) == first
    dropped = Batches(indexed_set(53), batch_size=8, preprocessing=pre, shuffle=True, drop_last=True)
    assert len(dropped) == 6 and len(epoch_order(dropped, 0)) == 48


def test_same_generator_replays_the_augmentation() -> None:
    pre = Preprocessing(size=(8, 8))
    split = ImageSet(torch.randint(0, 256, (16, 3, 8, 8), dtype=torch.uint8), torch.zeros(16))
    runs = [Batches(split, batch_size=16, preprocessing=pre, shuffle=True, augment=Augment(pad=2, brightness=0.2))
            for _ in range(2)]
    a, b = (next(iter(r))[0] for r in runs)
    assert torch.equal(a, b)
    assert epoch_generator(0, 1).initial_seed() != epoch_generator(0, 2).initial_seed()


def test_rank_shards_are_disjoint() -> None:
    pre = Preprocessing(size=(4, 4))
    shards = [epoch_order(Batches(indexed_set(50), batch_size=4, preprocessing=pre, shuffle=True, seed=1,
                                  rank=r, world_size=3), 2) for r in range(3)]
    assert [len(s) for s in shards] == [16, 16, 16]
    assert len(set().union(*map(set, shards))) == 48


# --- files through a DataLoader --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("files")
    paths = []
    for i in range(10):
        path = root / f"{i}.png"
        Image.fromarray(np.full((10, 14, 3), 20 * i, np.uint8)).save(path)
        paths.append(path)
    return paths


def sideways_with_exif(upright: np.ndarray, path: Path) -> Path:
    """Store ``upright`` rotated a quarter turn with EXIF orientation 6, as a phone stores a portrait photo."""
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(path, exif=exif)
    return path


def test_read_image_turns_a_photo_upright_by_its_exif_orientation(tmp_path: Path) -> None:
    upright = np.random.default_rng(0).integers(0, 256, (12, 20, 3), dtype=np.uint8)
    path = sideways_with_exif(upright, tmp_path / "portrait.png")
    with Image.open(path) as stored:
        assert stored.size == (12, 20)
    np.testing.assert_array_equal(np.asarray(read_image(path)), upright)


@pytest.mark.parametrize("workers", [0, 2])
def test_file_batches_through_a_dataloader(image_files: list[Path], workers: int) -> None:
    split = FileImageSet(image_files, list(range(10)), (8, 8))
    batches = Batches(split, batch_size=4, preprocessing=Preprocessing(size=(8, 8)), shuffle=True, seed=3,
                      workers=workers)
    seen = []
    for x, y in batches:
        assert x.shape[1:] == (3, 8, 8) and x.dtype == torch.float32
        assert torch.allclose(x[:, 0, 0, 0], y.float() * 20 / 255)
        seen += y.tolist()
    assert sorted(seen) == list(range(10))
    assert epoch_order(batches, 0) == seen and epoch_order(batches, 1) != seen


def test_file_subset_keeps_its_settings(image_files: list[Path]) -> None:
    split = FileImageSet(image_files, list(range(10)), (6, 5)).subset([9, 2])
    assert split.labels.tolist() == [9, 2] and split[0][0].shape == (3, 6, 5)


# --- preprocessing ---------------------------------------------------------------------------------------

def test_preprocessing_round_trip_and_bgr() -> None:
    pre = Preprocessing(size=(4, 4), scale=1.0, mean=(1.0, 2.0, 3.0), channel_order="BGR")
    assert Preprocessing.from_dict(pre.to_dict()) == pre
    x = torch.tensor([10.0, 20.0, 30.0]).view(1, 3, 1, 1)
    assert pre.normalize(x).flatten().tolist() == [29.0, 18.0, 7.0]
    with pytest.raises(ResnetsError, match="unreadable"):
        Preprocessing.from_dict({"size": (4, 4), "colour": 1})
    with pytest.raises(ValueError, match="one value per channel"):
        Preprocessing(size=(4, 4), mean=(0.5,))


def test_normalize_gives_the_same_values_in_either_memory_format() -> None:
    pre = Preprocessing(size=(5, 6), mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26))
    x = torch.randint(0, 256, (4, 3, 5, 6), dtype=torch.uint8)
    last = pre.normalize(x.contiguous(memory_format=torch.channels_last))
    assert torch.equal(last, pre.normalize(x)) and last.is_contiguous(memory_format=torch.channels_last)


def test_uint8_batches_crop_and_flip_without_becoming_float() -> None:
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    out = Augment(pad=2, flip=True)(x, gen(1))
    assert out.dtype == torch.uint8 and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out.float(), Augment(pad=2, flip=True)(x.float(), gen(1)))
    assert Augment(pad=2, brightness=0.1)(x, gen(1)).dtype == torch.float32


def test_read_image_and_resizing(tmp_path: Path) -> None:
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((10, 40, 3), np.uint8)).save(path)
    img = read_image(path)
    assert image_to_tensor(img, (8, 8)).shape == (3, 8, 8)
    assert image_to_tensor(img, (8, 8), "center_crop").shape == (3, 8, 8)
    assert Preprocessing(size=(5, 7), channels=1, mean=(0.5,), std=(0.5,)).load(path).shape == (1, 5, 7)
    with pytest.raises(ResnetsError, match="no image file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ResnetsError, match=r"text\.png"):
        read_image(tmp_path / "text.png")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_file_in_a_worker_is_one_sentence_naming_it(image_files: list[Path], tmp_path: Path,
                                                           workers: int) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(image_files[0].read_bytes()[:40])
    split = FileImageSet([*image_files[:3], bad], [0, 1, 2, 3], (8, 8))
    with pytest.raises(ResnetsError, match=r"^cannot decode .*bad\.png") as caught:
        list(Batches(split, batch_size=2, preprocessing=Preprocessing(size=(8, 8)), workers=workers))
    assert "\n" not in str(caught.value)


# --- shared split helpers --------------------------------------------------------------------------------

def test_balanced_subset_fills_from_other_classes_when_one_runs_out() -> None:
    labels = torch.tensor([0] * 90 + [1] * 10 + [2] * 30)
    picked = balanced_subset(labels, 45, seed=1)
    assert len(set(picked.tolist())) == 45 and list(picked) == sorted(picked)
    assert labels[picked].bincount().tolist() in ([18, 10, 17], [17, 10, 18])
    assert np.array_equal(picked, balanced_subset(labels, 45, seed=1))
    assert not np.array_equal(picked, balanced_subset(labels, 45, seed=2))


def test_stratified_holdout_is_exact_and_disjoint() -> None:
    labels = torch.tensor([0] * 37 + [1] * 23 + [2] * 7)
    kept, held = stratified_holdout(labels, 0.25, seed=0)
    assert len(held) == round(67 * 0.25) and len(kept) + len(held) == 67
    assert not set(kept.tolist()) & set(held.tolist())
    assert labels[held].bincount().tolist() == [9, 6, 2]


def test_crop_takes_smaller_windows_of_the_padded_images() -> None:
    x = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    for per_sample in (True, False):
        out = Augment(crop=5, per_sample_crop=per_sample)(x, g)
        assert out.shape == (2, 1, 5, 5)
        for image, source in zip(out, x, strict=True):
            windows = [source[0, i:i + 5, j:j + 5] for i in range(4) for j in range(4)]
            assert any(torch.equal(image[0], w) for w in windows)
    assert Augment(pad=2, crop=12)(x, g).shape == (2, 1, 12, 12)
    with pytest.raises(ValueError, match="cannot crop 13x13 from 8x8 images padded by 2"):
        Augment(pad=2, crop=13)(x, g)
