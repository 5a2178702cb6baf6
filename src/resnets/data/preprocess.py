"""How raw images become model inputs, recorded with every checkpoint so ``predict`` does the same.

A :class:`Preprocessing` says: resize to ``size``, reorder channels (``RGB`` or Keras-caffe ``BGR``),
multiply by ``scale`` (1/255 for "x/255"), subtract ``mean``, divide by ``std``. The usual ones:

- the course: ``scale=1/255``, no mean/std (its ``X = X_orig / 255``);
- torchvision / timm ImageNet weights: ``scale=1/255``, ImageNet mean and std;
- Keras applications' ``caffe`` mode (ResNet50 v1): ``BGR``, ``scale=1``, mean (103.939, 116.779, 123.68).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from resnets.errors import ResnetsError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Preprocessing:
    """Resize, channel order, scale, mean, std: the model's view of an image (module docstring)."""

    size: tuple[int, int]
    channels: int = 3
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    resize: Literal["stretch", "center_crop"] = "stretch"

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", tuple(int(v) for v in self.size))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(f"mean and std need one value per channel ({self.channels}).")
        if any(s <= 0 for s in self.std):
            raise ValueError("every std must be positive.")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        try:
            return cls(**data)
        except TypeError as exc:
            raise ResnetsError(f"unreadable preprocessing record ({exc}).") from None

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (or float 0..255) NCHW images on any device -> float32 model inputs."""
        x = images.float()
        if self.channel_order == "BGR":
            x = x.flip(1)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        if x.dim() == 4 and x.shape[1] > 1 and not x.is_contiguous() \
                and x.is_contiguous(memory_format=torch.channels_last):
            # Broadcast over the batch only: a (1, C, 1, 1) operand over channels-last images makes the
            # innermost loop C long, several times slower on the CPU. Same values either way.
            mean, std = (v.expand(1, -1, *x.shape[2:]).contiguous(memory_format=torch.channels_last)
                         for v in (mean, std))
        return (x * self.scale - mean) / std

    def load(self, path: str | Path) -> torch.Tensor:
        """One image file as a uint8 CHW tensor at ``size``; a bad file raises one clear sentence."""
        return image_to_tensor(read_image(path, channels=self.channels), self.size, self.resize)


def read_image(path: str | Path, *, channels: int = 3) -> Image.Image:
    """Decode an image file fully (so a truncated file fails here, not later), turned upright by its EXIF
    orientation (as phones store photos; the server does the same), in RGB or greyscale."""
    path = Path(path)
    if not path.is_file():
        raise ResnetsError(f"no image file at {path}; check the path.")
    try:
        with Image.open(path) as img:
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB" if channels == 3 else "L")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        reason = "not an image Pillow can read" if isinstance(exc, UnidentifiedImageError) else str(exc)
        raise ResnetsError(f"cannot decode {path} ({reason}); is it a complete image file?") from None


def image_to_tensor(img: Image.Image, size: tuple[int, int], resize: str = "stretch") -> torch.Tensor:
    """A PIL image -> uint8 CHW tensor of ``size`` (H, W): stretched, or resized on its shorter side and
    centre-cropped."""
    h, w = size
    if resize == "center_crop":
        scale = max(h / img.height, w / img.width)
        img = img.resize((max(w, round(img.width * scale)), max(h, round(img.height * scale))), Image.BILINEAR)
        left, top = (img.width - w) // 2, (img.height - h) // 2
        img = img.crop((left, top, left + w, top + h))
    elif img.size != (w, h):
        img = img.resize((w, h), Image.BILINEAR)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()
