"""Batches for training and evaluation: normalised float tensors on the model's device.

An :class:`ImageSet` is moved to the device once; each epoch draws a permutation and augments whole
batches there (no host round trip, no worker processes). A :class:`FileImageSet` is decoded by DataLoader
workers (persistent, pinned memory on CUDA) and its uint8 batches are copied without blocking, then
augmented on the device the same way. Under DistributedDataParallel each rank reads its own shard.

Reproducibility: the order and the augmentation of epoch ``e`` come from a generator seeded with
``(seed, e)``, so an epoch replays exactly after a resume.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from resnets.data.augment import Augment
from resnets.data.base import FileImageSet, ImageSet, Split
from resnets.data.preprocess import Preprocessing
from resnets.errors import ResnetsError


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator for one epoch's order and augmentation, derived from the run seed."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class Batches:
    """Iterate over a split in batches of normalised inputs and labels.

    Args:
        split: the data.
        batch_size: images per batch (per rank under DDP).
        preprocessing: how to turn uint8 images into model inputs.
        device: where the batches (and, for an ImageSet, the whole split) live.
        shuffle: a new order each epoch (call :meth:`set_epoch`).
        augment: training augmentation, or ``None``.
        drop_last: drop a last incomplete batch (training).
        seed: the run seed (epoch orders and augmentations derive from it).
        rank, world_size: this process's shard under DistributedDataParallel.
        workers: DataLoader workers for file splits.
        channels_last: return batches in channels-last memory format.
    """

    def __init__(
        self,
        split: Split,
        *,
        batch_size: int,
        preprocessing: Preprocessing,
        device: torch.device | str = "cpu",
        shuffle: bool = False,
        augment: Augment | None = None,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        workers: int = 2,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch size must be a positive integer, not {batch_size}.")
        self.split = split
        self.batch_size = batch_size
        self.preprocessing = preprocessing
        self.device = torch.device(device)
        self.shuffle = shuffle
        self.augment = augment if augment is not None and augment.active else None
        self.drop_last = drop_last
        self.seed = seed
        self.rank, self.world_size = rank, world_size
        self.workers = workers
        self.channels_last = channels_last
        self.epoch = 0
        if isinstance(split, ImageSet):
            self._images = split.images.to(self.device)
            self._labels = split.labels.to(self.device)
        self._loader: DataLoader | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    @property
    def num_samples(self) -> int:
        """Images this rank sees per epoch."""
        n = len(self.split)
        return n // self.world_size if self.drop_last or self.world_size > 1 else n

    def __len__(self) -> int:
        n = self.num_samples
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self, generator: torch.Generator) -> torch.Tensor:
        n = len(self.split)
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        if self.world_size > 1:
            per_rank = n // self.world_size
            order = order[self.rank * per_rank:(self.rank + 1) * per_rank]
        return order

    def _finish(self, images: torch.Tensor, labels: torch.Tensor,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.augment(images, generator) if self.augment is not None else images
        x = self.preprocessing.normalize(x)
        x = x.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        return x, labels

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = epoch_generator(self.seed, self.epoch)
        order = self._order(generator)
        if isinstance(self.split, ImageSet):
            order = order.to(self.device)
            for start in range(0, len(order), self.batch_size):
                index = order[start:start + self.batch_size]
                if self.drop_last and len(index) < self.batch_size:
                    return
                yield self._finish(self._images[index], self._labels[index], generator)
            return
        yield from self._file_batches(order, generator)

    def _file_batches(self, order: torch.Tensor,
                      generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        cuda = self.device.type == "cuda"
        if self._loader is None:
            self._sampler = _OrderSampler()
            self._loader = DataLoader(
                _Reported(self.split),  # type: ignore[arg-type]
                batch_size=self.batch_size,
                sampler=self._sampler,
                drop_last=self.drop_last,
                num_workers=self.workers,
                pin_memory=cuda,
                persistent_workers=self.workers > 0,
            )
        self._sampler.order = order.tolist()
        error = None
        for images, labels, errors in self._loader:
            error = next((e for e in errors if e), None)
            if error is not None:
                break
            yield self._finish(images.to(self.device, non_blocking=cuda), labels.to(self.device, non_blocking=cuda),
                               generator)
        if error is not None:
            self._loader = None
            raise ResnetsError(error)


class _Reported(Dataset):
    """A file split as DataLoader workers read it: a file that fails to decode comes back as its one-sentence
    error, which the main process raises after dropping the loader. (A worker that raises gets its traceback
    glued to the message, and its DataLoader can take 10 s to shut down.)"""

    def __init__(self, split: FileImageSet) -> None:
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, str]:
        try:
            image, label = self.split[index]
        except ResnetsError as exc:
            return torch.zeros(self.split.image_size, dtype=torch.uint8), -1, str(exc)
        return image, label, ""


class _OrderSampler(Sampler[int]):
    """Yields whatever order the current epoch set: one DataLoader (and its persistent workers) serves
    every epoch while the order still comes from the epoch's seeded generator."""

    def __init__(self) -> None:
        self.order: list[int] = []

    def __iter__(self) -> Iterator[int]:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)
