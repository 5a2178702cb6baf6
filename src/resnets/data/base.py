"""What every data source returns: splits of images with labels, class names, default preprocessing.

Two kinds of split:

- :class:`ImageSet`: the whole split in memory as uint8 NCHW + int64 labels. Small sets (the embedded
  default, SIGNS, CIFAR) are this: a loader can move them to the accelerator once and augment there.
- :class:`FileImageSet`: image files decoded with Pillow in DataLoader workers (``folder:DIR``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Dataset

from resnets.data.preprocess import Preprocessing, image_to_tensor, read_image
from resnets.errors import ResnetsError


@dataclass
class ImageSet:
    """A split in memory: ``images`` uint8 (N, C, H, W), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError("ImageSet images must be a uint8 (N, C, H, W) tensor.")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError("ImageSet needs exactly one label per image.")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def image_size(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: torch.Tensor | Sequence[int]) -> ImageSet:
        index = torch.as_tensor(indices, dtype=torch.long)
        return ImageSet(self.images[index], self.labels[index])


class FileImageSet(Dataset):
    """A split of image files: decoded, converted and resized to ``size`` on demand (in workers)."""

    def __init__(self, paths: Sequence[Path], labels: Sequence[int], size: tuple[int, int], *,
                 channels: int = 3, resize: str = "stretch") -> None:
        if len(paths) != len(labels):
            raise ValueError("FileImageSet needs exactly one label per file.")
        self.paths = [Path(p) for p in paths]
        self.labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.size = tuple(size)
        self.channels = channels
        self.resize = resize

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def image_size(self) -> tuple[int, int, int]:
        return (self.channels, *self.size)  # type: ignore[return-value]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        img = read_image(self.paths[index], channels=self.channels)
        return image_to_tensor(img, self.size, self.resize), int(self.labels[index])

    def subset(self, indices: torch.Tensor | Sequence[int]) -> FileImageSet:
        idx = torch.as_tensor(indices, dtype=torch.long).tolist()
        return FileImageSet([self.paths[i] for i in idx], self.labels[idx].tolist(), self.size,
                            channels=self.channels, resize=self.resize)


Split = ImageSet | FileImageSet


def merge_splits(first: Split, second: Split) -> Split:
    """One split holding the images of both (of the same kind and image size), ``first``'s first."""
    if first.image_size != second.image_size or type(first) is not type(second):
        raise ValueError("only splits of the same kind and image size can be merged.")
    if isinstance(first, ImageSet) and isinstance(second, ImageSet):
        return ImageSet(torch.cat([first.images, second.images]), torch.cat([first.labels, second.labels]))
    assert isinstance(first, FileImageSet) and isinstance(second, FileImageSet)
    return FileImageSet([*first.paths, *second.paths], [*first.labels.tolist(), *second.labels.tolist()], first.size,
                        channels=first.channels, resize=first.resize)


@dataclass
class DataBundle:
    """One data set, ready to train on.

    Attributes:
        name: the source's name (``shapes``, ``signs``, ``cifar10``, ``cifar100``, ``folder``).
        source: the ``--data`` spec that made it, so a run can reload the same data.
        classes: class names, index = label.
        train / val / test: the splits (val or test may be absent).
        preprocessing: how this data is normalised for a model (mean/std or x/255).
        description: one line on what the data is, for logs and reports.
    """

    name: str
    source: str
    classes: list[str]
    train: Split
    val: Split | None
    test: Split | None
    preprocessing: Preprocessing
    description: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_size(self) -> tuple[int, int, int]:
        return self.train.image_size

    def split(self, name: str) -> Split:
        """``train``, ``val`` or ``test``; an absent split raises one clear sentence."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"split must be train, val or test, not {name!r}.")
        found = getattr(self, name)
        if found is None:
            raise ValueError(f"{self.source} has no {name} split.")
        return found


def check_labels(labels: torch.Tensor, num_classes: int, where: str) -> None:
    """Refuse labels outside ``0..num_classes-1`` with a sentence naming the source (a user's data error, so
    :class:`ResnetsError`, still a ``ValueError``)."""
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ResnetsError(
            f"{where} has labels from {int(labels.min())} to {int(labels.max())}, outside 0..{num_classes - 1}; "
            "check the file or the class list."
        )
