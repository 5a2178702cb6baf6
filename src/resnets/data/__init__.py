"""Data: sources chosen by one ``--data SPEC``, splits, preprocessing, augmentation and batches.

``load_data(spec)`` returns a :class:`DataBundle`. Sources: the embedded default (``shapes``, generated in
process), ``signs:DIR`` (the course's SIGNS), ``cifar10:DIR`` / ``cifar100:DIR``, ``folder:DIR``.
"""

from resnets.data.augment import TTA_MODES, Augment, Mix, tta_views
from resnets.data.base import DataBundle, FileImageSet, ImageSet, Split, check_labels
from resnets.data.loader import Batches, epoch_generator
from resnets.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, image_to_tensor, read_image
from resnets.data.sources import DATA_SOURCES, load_data

__all__ = [
    "DATA_SOURCES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "TTA_MODES",
    "Augment",
    "Batches",
    "DataBundle",
    "FileImageSet",
    "ImageSet",
    "Mix",
    "Preprocessing",
    "Split",
    "check_labels",
    "epoch_generator",
    "image_to_tensor",
    "load_data",
    "read_image",
    "tta_views",
]
