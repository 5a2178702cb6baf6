"""``folder:DIR``: your own images, one subfolder per class (the ImageFolder layout).

``DIR/<class>/**/<image>``: the classes are the subfolder names, sorted; the label is the index in that
order. If ``DIR`` has a ``train/`` folder of class folders, ``train/``, ``val/`` and ``test/`` (the last two
optional) are the splits, with the classes of ``train/``; otherwise all of ``DIR`` is train (hold out val with
``val_fraction``). Images: .jpg .jpeg .png .bmp .gif .webp in any case; hidden files and folders are skipped.

The files stay on disk: a :class:`FileImageSet` decodes them with Pillow in DataLoader workers and resizes
them to ``image_size`` (default 64). A file that does not decode is reported with its path when it is read;
``verify=True`` decodes every file once up front instead. Preprocessing: x/255 and the ImageNet mean and std,
the statistics pretrained torchvision / timm weights expect.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from resnets.data.base import DataBundle, FileImageSet
from resnets.data.preprocess import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, read_image
from resnets.data.sources import DATA_SOURCES
from resnets.data.splits import as_bool, as_directory, as_int, check_options, finish
from resnets.errors import ResnetsError

EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"}
_OPTIONS = {"image_size", "verify"}


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def class_folders(root: Path) -> list[Path]:
    """The class subfolders of ``root``, sorted by name; none is an error naming ``root``."""
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    if not folders:
        raise ResnetsError(f"{root} has no class subfolders; put each class's images in {root}/<class name>/.")
    return folders


def images_in(folder: Path) -> list[Path]:
    """Every visible image file under ``folder``, sorted; none is an error naming ``folder``."""
    files = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in EXTENSIONS and p.is_file() and _visible(p, folder))
    if not files:
        raise ResnetsError(
            f"{folder} holds no images ({', '.join(sorted(EXTENSIONS))}); add some or remove the folder."
        )
    return files


def read_split(root: Path, classes: list[str], size: tuple[int, int]) -> FileImageSet:
    """A split from ``root/<class>/`` folders; a class not in ``classes`` is an error."""
    paths: list[Path] = []
    labels: list[int] = []
    for folder in class_folders(root):
        if folder.name not in classes:
            raise ResnetsError(f"{folder} is a class the training split does not have; add it to train or remove it.")
        files = images_in(folder)
        paths += files
        labels += [classes.index(folder.name)] * len(files)
    return FileImageSet(paths, labels, size)


def parse_size(value: Any) -> tuple[int, int]:
    """``image_size``: an int, an (H, W) pair, or text such as ``64``, ``64x48`` or ``64,48``."""
    if isinstance(value, str):
        items: list[Any] = re.split(r"[x,\s]+", value.strip())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if len(items) not in (1, 2):
        raise ResnetsError(f"folder option image_size must be one size or H,W, not {value!r}.")
    sizes = [as_int("folder", "image_size", v, minimum=1) for v in items]
    return (sizes[0], sizes[-1])


def load_folder(arg: str, *, seed: int = 0, val_fraction: float | None = None, limit: int | None = None,
                **source_options: Any) -> DataBundle:
    """Images in class folders under ``DIR`` (module docstring). Options: ``image_size``, ``verify``."""
    check_options("folder", source_options, _OPTIONS)
    size = parse_size(source_options.get("image_size", 64))
    verify = as_bool("folder", "verify", source_options.get("verify", False))
    root = as_directory("folder", arg)
    split_root = root / "train"
    by_split = split_root.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in split_root.iterdir())
    train_root = split_root if by_split else root
    classes = [p.name for p in class_folders(train_root)]
    train = read_split(train_root, classes, size)
    val = read_split(root / "val", classes, size) if by_split and (root / "val").is_dir() else None
    test = read_split(root / "test", classes, size) if by_split and (root / "test").is_dir() else None
    if verify:
        for split in (train, val, test):
            for path in split.paths if split is not None else []:
                read_image(path)
    bundle = DataBundle(
        name="folder",
        source=f"folder:{arg}",
        classes=classes,
        train=train,
        val=val,
        test=test,
        preprocessing=Preprocessing(size=size, mean=IMAGENET_MEAN, std=IMAGENET_STD),
        description=f"image folder {root}: {len(classes)} classes, resized to {size[0]}x{size[1]}",
        notes=["splits from train/val/test subfolders" if by_split else "all of the folder is train"],
    )
    return finish(bundle, seed=seed, val_fraction=val_fraction, limit=limit)


DATA_SOURCES["folder"] = load_folder
