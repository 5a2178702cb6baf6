"""Augmentation on batches of tensors, on whatever device the batch is on (the airbench way).

No torchvision: pad-and-crop, flip, brightness, contrast, saturation, rotation and zoom are a few tensor
operations over the whole batch, so a small data set can live on the accelerator and never touch the host. Every
random draw comes from the ``torch.Generator`` passed in, so a seeded epoch is reproducible (and a resumed run
repeats it exactly).
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Augment:
    """What to do to each training batch.

    Attributes:
        pad: pad by this many pixels (reflect), then crop back to the original size at a random offset.
        crop: crop to this square size instead (0: the original size). Training on smaller crops than the
            evaluation's whole images is cheaper per step; a fully convolutional net takes both sizes.
        per_sample_crop: a crop offset per image (``True``) or one per batch (``False``: cheaper).
        flip: random horizontal flips, per image.
        brightness: multiply each image by ``U(1 - b, 1 + b)`` (0: off).
        contrast: scale each image's distance from its mean grey level by ``U(1 - c, 1 + c)`` (0: off).
        saturation: scale each pixel's distance from its own grey by ``U(1 - s, 1 + s)`` (0: off; colour only).
        rotate: rotate each image by an angle drawn from ``U(-r, r)`` degrees (0: off).
        scale: zoom each image by a factor drawn from ``U(1 - s, 1 + s)`` (0: off). Rotation and zoom are one
            affine resampling per image, reflecting at the border so no black corners appear.
    """

    pad: int = 0
    per_sample_crop: bool = True
    flip: bool = False
    brightness: float = 0.0
    crop: int = 0
    rotate: float = 0.0
    scale: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.pad or self.crop or self.flip or self.brightness or self.rotate or self.scale
                    or self.contrast or self.saturation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment an NCHW batch (values on any scale).

        A uint8 batch stays uint8 through cropping and flipping (a quarter of the bytes to move) and becomes
        float only for rotation, zoom or a colour change; the values are the same either way.
        """
        if self.rotate or self.scale:
            x = random_affine(x.float(), self.rotate, self.scale, generator)
        if self.pad or self.crop:
            x = random_crop(x, self.pad, generator, per_sample=self.per_sample_crop, size=self.crop or None)
        if self.flip:
            x = random_flip(x, generator)
        if self.brightness:
            x = random_brightness(x.float(), self.brightness, generator)
        if self.contrast:
            x = random_contrast(x.float(), self.contrast, generator)
        if self.saturation:
            x = random_saturation(x.float(), self.saturation, generator)
        return x


def _rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    gen_device = generator.device if generator is not None else torch.device("cpu")
    return torch.rand(shape, generator=generator, device=gen_device).to(device)


def random_crop(x: torch.Tensor, pad: int, generator: torch.Generator | None = None, *,
                per_sample: bool = True, size: int | None = None) -> torch.Tensor:
    """Reflect-pad by ``pad`` and crop to ``size`` x ``size`` (default: the input size) at random offsets.

    Windows are read straight from the unpadded images through reflected indices, for any dtype. Per-image
    windows come out in channels-last memory (what that gather yields), so a channels-last model needs no copy.
    """
    n, _, height, width = x.shape
    h, w = (size, size) if size else (height, width)
    if h > height + 2 * pad or w > width + 2 * pad:
        raise ValueError(f"cannot crop {h}x{w} from {height}x{width} images padded by {pad}.")
    if pad >= min(height, width):
        raise ValueError(f"cannot reflect-pad {height}x{width} images by {pad} pixels; pad less than the image size.")
    span = torch.tensor([height + 2 * pad - h + 1, width + 2 * pad - w + 1], device=x.device)
    offsets = torch.minimum((_rand((n if per_sample else 1, 2), generator, x.device) * span).long(), span - 1) - pad
    rows = _reflect(offsets[:, 0:1] + torch.arange(h, device=x.device), height)
    cols = _reflect(offsets[:, 1:2] + torch.arange(w, device=x.device), width)
    if not per_sample:
        return x.index_select(2, rows[0]).index_select(3, cols[0])
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return x[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Indices outside ``[0, size)`` mirrored back in without repeating the edge (``F.pad``'s ``reflect``)."""
    index = index.abs()
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip each image left-right with probability 1/2."""
    flip = _rand((x.shape[0],), generator, x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _factors(x: torch.Tensor, amount: float, generator: torch.Generator | None) -> torch.Tensor:
    """One factor per image of ``x`` drawn from ``U(1 - amount, 1 + amount)``, shaped (N, 1, 1, 1) to broadcast."""
    return (1 + (_rand((x.shape[0],), generator, x.device) * 2 - 1) * amount).view(-1, 1, 1, 1)


def random_brightness(x: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each image by a factor drawn from ``U(1 - amount, 1 + amount)``."""
    return x * _factors(x, amount, generator)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Each pixel's luma (ITU-R 601 weights, as Pillow's ``L`` mode), shape (N, 1, H, W); grey images as they are."""
    if x.shape[1] != 3:
        return x.mean(1, keepdim=True)
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def random_contrast(x: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each image's distance from its mean grey level by a factor drawn from ``U(1 - amount, 1 + amount)``."""
    mean = _grey(x).mean((1, 2, 3), keepdim=True)
    return mean + (x - mean) * _factors(x, amount, generator)


def random_saturation(x: torch.Tensor, amount: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each pixel's distance from its own grey by a factor drawn per image from ``U(1 - amount, 1 + amount)``.

    0 would make the image grey, 2 doubles its colourfulness; a one-channel image is returned as it is.
    """
    if x.shape[1] != 3:
        return x
    grey = _grey(x)
    return grey + (x - grey) * _factors(x, amount, generator)


def random_affine(x: torch.Tensor, degrees: float, scale: float,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Rotate each image by ``U(-degrees, degrees)`` and zoom it by ``U(1 - scale, 1 + scale)`` about its centre."""
    draws = _rand((x.shape[0], 2), generator, x.device) * 2 - 1
    return rotate_zoom(x, draws[:, 0] * degrees, 1 + draws[:, 1] * scale)


def rotate_zoom(x: torch.Tensor, degrees: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Turn image ``i`` by ``degrees[i]`` (counter-clockwise as shown) and zoom it by ``zoom[i]`` about its centre.

    A zoom above 1 enlarges the content. Bilinear resampling; the border is reflected, so no black corners.
    """
    angle = torch.deg2rad(degrees.to(torch.float32))
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    zeros = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out.to(x.dtype)


@dataclass(frozen=True)
class Mix:
    """Mixup (Zhang et al., 2018) and CutMix (Yun et al., 2019) over a training batch.

    Each image is blended with (mixup) or has a box pasted in from (CutMix) another image of the same batch, and
    its target becomes the same mixture of the two labels. The weight ``lam`` of the image's own label is drawn
    once per batch from ``Beta(alpha, alpha)``; with both on, each batch takes one of the two at even odds (as
    timm does). For CutMix ``lam`` is the share of the image left uncovered, after clipping the box to the image.

    Attributes:
        mixup: mixup's ``alpha`` (0: off; 0.2 is the paper's choice for ImageNet).
        cutmix: CutMix's ``alpha`` (0: off; the paper uses 1.0).
    """

    mixup: float = 0.0
    cutmix: float = 0.0

    @property
    def active(self) -> bool:
        return bool(self.mixup or self.cutmix)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                 rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
        """Mix an NCHW float batch; returns the mixed batch and its (N, num_classes) probability targets.

        ``rng`` draws ``lam``, the choice between the two and the partner of each image, so a seeded run repeats.
        """
        n = x.shape[0]
        partner = torch.tensor(rng.sample(range(n), n), device=x.device)
        use_cutmix = bool(self.cutmix) and (not self.mixup or rng.random() < 0.5)
        lam = rng.betavariate(self.cutmix, self.cutmix) if use_cutmix else rng.betavariate(self.mixup, self.mixup)
        if use_cutmix:
            x, lam = paste_box(x, partner, lam, rng)
        else:
            x = x.lerp(x[partner], 1 - lam)
        one_hot = F.one_hot(y, num_classes).float()
        return x, one_hot.lerp(one_hot[partner], 1 - lam)


def paste_box(x: torch.Tensor, partner: torch.Tensor, lam: float, rng: random.Random) -> tuple[torch.Tensor, float]:
    """Paste a box covering ``1 - lam`` of the image, at a random centre, from each image's partner.

    Returns the new batch (in the input's memory format) and the share of each image left as it was.
    """
    height, width = x.shape[2:]
    cut = math.sqrt(1 - lam)
    cy, cx = rng.randrange(height), rng.randrange(width)
    half_h, half_w = int(height * cut) // 2, int(width * cut) // 2
    top, bottom = max(cy - half_h, 0), min(cy + half_h, height)
    left, right = max(cx - half_w, 0), min(cx + half_w, width)
    out = x.clone()
    out[:, :, top:bottom, left:right] = x[partner, :, top:bottom, left:right]
    return out, 1 - (bottom - top) * (right - left) / (height * width)


TTA_MODES = ("none", "flip", "shift", "flip+shift")
GRID_SHIFT = 2


def tta_views(x: torch.Tensor, mode: str = "none") -> list[torch.Tensor]:
    """The views of a batch that test-time augmentation averages over.

    ``flip``: the batch and its mirror image. ``shift``: the batch moved by -2, 0 and +2 pixels in each direction
    (reflected borders): nine views, within reach of a pad-and-crop training augmentation, for models trained
    without flips. ``flip+shift``: the batch and its mirror image, each also moved one pixel down-right and one
    pixel up-left: six views. Use a view only where training used its augmentation: a model never shown
    mirrored images is hurt by the mirrored view.
    """
    if mode not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {mode!r}; use one of: {', '.join(TTA_MODES)}.")
    if mode == "none":
        return [x]
    if mode == "shift":
        steps = (0, -GRID_SHIFT, GRID_SHIFT)
        return [x if down == right == 0 else shift(x, down, right) for down in steps for right in steps]
    views = [x, x.flip(3)]
    if mode == "flip+shift":
        views += [shift(v, d, d) for v in views[:2] for d in (1, -1)]
    return views


def shift(x: torch.Tensor, down: int, right: int) -> torch.Tensor:
    """Move the content of an NCHW batch ``down`` rows and ``right`` columns, reflecting at the border."""
    h, w = x.shape[2:]
    rows = _reflect(torch.arange(h, device=x.device) - down, h)
    cols = _reflect(torch.arange(w, device=x.device) - right, w)
    return x.index_select(2, rows).index_select(3, cols)


def center_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop the centre ``size`` (H, W) of an NCHW batch."""
    h, w = size
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    if top < 0 or left < 0:
        raise ValueError(f"cannot centre-crop {tuple(x.shape[2:])} images to {size}.")
    return x[:, :, top:top + h, left:left + w]


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of an NCHW float batch."""
    return F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
