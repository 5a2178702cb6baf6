"""``cifar10:DIR`` and ``cifar100:DIR``: CIFAR-10 / CIFAR-100 (Krizhevsky, 2009), 32x32 RGB, in memory.

Layouts read from ``DIR``, first found wins:

1. npz files ``cifar10_train.npz`` / ``cifar10_test.npz`` (``cifar100_...`` for CIFAR-100) holding ``x``
   (N, 32, 32, 3) uint8, ``y`` and ``label_names``, read with ``allow_pickle=False``;
2. the extracted official archive ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``,
   ``batches.meta``) or ``cifar-100-python/`` (``train``, ``test``, ``meta``; fine labels), or DIR itself;
3. the official ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``, extracted into DIR first;
4. with ``download=True``: that archive fetched from the official URL (resumable, md5-checked), then 3.

The official batches are Python pickles. They are read only through :class:`ArrayUnpickler`, which builds
numpy arrays and nothing else, so a crafted file cannot run code.

Splits: train and test as published. ``paper_split=True`` holds out a seeded, stratified 10% of train as
val (45,000 / 5,000, as He et al. 2016, section 4.2); otherwise there is no val unless ``val_fraction``.
Preprocessing: x/255 then the per-channel mean and std of the training set (see ``STATS``).
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import pickle
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from resnets.data.base import DataBundle, ImageSet, check_labels
from resnets.data.preprocess import Preprocessing
from resnets.data.sources import DATA_SOURCES
from resnets.data.splits import as_bool, as_directory, check_options, finish
from resnets.errors import ResnetsError


@dataclasses.dataclass(frozen=True)
class Archive:
    """Where one CIFAR variant is published and how its extracted files are named."""

    url: str
    md5: str
    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: str
    names_key: str
    num_classes: int

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


ARCHIVES = {
    "cifar10": Archive(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        md5="c58f30108f718f92721af3b95e74349a",
        folder="cifar-10-batches-py",
        train_files=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test_file="test_batch",
        meta_file="batches.meta",
        label_key="labels",
        names_key="label_names",
        num_classes=10,
    ),
    "cifar100": Archive(
        url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        folder="cifar-100-python",
        train_files=("train",),
        test_file="test",
        meta_file="meta",
        label_key="fine_labels",
        names_key="fine_label_names",
        num_classes=100,
    ),
}
"""The official archives (URL and md5 from the data set's page); ``url=`` and ``md5=`` override them."""

STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
"""Per-channel mean and std of the training images (pixels/255). CIFAR-10: computed here from the 50,000
training images (they match the published values). CIFAR-100: the published values (the data set is not on
this machine to recompute them)."""

_OPTIONS = {"paper_split", "download", "url", "md5"}
_CHUNK = 1 << 20


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings and numpy arrays, and refuses every other global.

    The allowed globals are what ``pickle`` needs to rebuild an ndarray: ``_reconstruct`` (under numpy 1's
    and numpy 2's module names), ``ndarray``, ``dtype``, and ``_codecs.encode``, with which Python 3 writes
    bytes at protocol 2 (it turns a str into bytes, nothing more).
    """

    ALLOWED: ClassVar[Mapping[tuple[str, str], Any]] = {
        ("numpy.core.multiarray", "_reconstruct"): np.zeros(0).__reduce__()[0],
        ("numpy._core.multiarray", "_reconstruct"): np.zeros(0).__reduce__()[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def __init__(self, file: BinaryIO, *, source: str) -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise ResnetsError(
                f"{self.source} asks to load {module}.{name}, which a CIFAR batch never does; refusing the file "
                "(use the official archive)."
            )
        return self.ALLOWED[module, name]


def read_batch(path: Path) -> dict[str, Any]:
    """One official batch or meta file as a dict, through :class:`ArrayUnpickler` only."""
    try:
        with path.open("rb") as f:
            data = ArrayUnpickler(f, source=str(path)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        if isinstance(exc, ResnetsError):
            raise
        raise ResnetsError(f"cannot read {path} as a CIFAR batch ({exc}); is the file complete?") from None
    if not isinstance(data, dict):
        raise ResnetsError(f"{path} holds a {type(data).__name__}, not a CIFAR batch dict; is it the right file?")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in data.items()}


def _text(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(x (N, 32, 32, 3) uint8, y, names) from one npz file."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = {"x", "y"} - set(z.files)
            if missing:
                raise ResnetsError(
                    f"{path} lacks the key(s) {', '.join(sorted(missing))} (it has: {', '.join(z.files)}); "
                    "expected x, y and label_names."
                )
            x, y = z["x"], z["y"]
            names = _text(z["label_names"]) if "label_names" in z.files else []
    except (OSError, ValueError) as exc:
        if isinstance(exc, ResnetsError):
            raise
        raise ResnetsError(f"cannot read {path} as npz ({exc}); is the file complete?") from None
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3 or len(y) != len(x):
        raise ResnetsError(f"{path}: x is {x.dtype} {x.shape} with {len(y)} labels; expected uint8 (N, 32, 32, 3).")
    return x, y, names


def _from_hwc(x: np.ndarray, y: np.ndarray, num_classes: int, where: str) -> ImageSet:
    """An ImageSet viewing HWC images as NCHW (no copy yet: subsets copy only what they keep)."""
    labels = torch.from_numpy(np.asarray(y).astype(np.int64))
    check_labels(labels, num_classes, where)
    return ImageSet(torch.from_numpy(x).permute(0, 3, 1, 2), labels)


def _from_rows(batches: list[dict[str, Any]], archive: Archive, where: str) -> ImageSet:
    """An ImageSet from official batches: ``data`` rows are 3072 bytes, the R, G, B planes of 32x32."""
    try:
        x = np.concatenate([np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 32, 32) for b in batches])
        y = np.concatenate([np.asarray(b[archive.label_key], dtype=np.int64) for b in batches])
    except KeyError as exc:
        raise ResnetsError(f"{where} lacks the key {exc.args[0]!r} of a CIFAR batch; is it the right file?") from None
    except ValueError as exc:
        raise ResnetsError(f"{where} has a malformed data array ({exc}); is the file complete?") from None
    if len(x) != len(y):
        raise ResnetsError(f"{where} has {len(x)} images but {len(y)} labels; the batch files are inconsistent.")
    labels = torch.from_numpy(y)
    check_labels(labels, archive.num_classes, where)
    return ImageSet(torch.from_numpy(x), labels)


def _batch_folder(root: Path, archive: Archive) -> Path | None:
    """The extracted folder (``root/<folder>`` or ``root`` itself) if it holds every batch file."""
    for folder in (root / archive.folder, root):
        if all((folder / name).is_file() for name in (*archive.train_files, archive.test_file)):
            return folder
    return None


def _read_batches(folder: Path, archive: Archive) -> tuple[ImageSet, ImageSet, list[str]]:
    train = _from_rows([read_batch(folder / f) for f in archive.train_files], archive, str(folder))
    test = _from_rows([read_batch(folder / archive.test_file)], archive, str(folder / archive.test_file))
    meta = folder / archive.meta_file
    names = _text(read_batch(meta).get(archive.names_key, [])) if meta.is_file() else []
    return train, test, names


def extract(tar_path: Path, into: Path) -> None:
    """Extract an archive, refusing members with absolute paths, ``..`` or links (a hostile archive)."""
    try:
        with tarfile.open(tar_path, "r:*") as tar:
            for member in tar.getmembers():
                parts = PurePosixPath(member.name).parts
                if member.name.startswith(("/", "\\")) or ".." in parts or not (member.isfile() or member.isdir()):
                    raise ResnetsError(
                        f"{tar_path} holds an unsafe member {member.name!r} (absolute path, '..' or link); "
                        "refusing to extract it."
                    )
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ResnetsError(f"cannot extract {tar_path} ({exc}); delete it and download it again.") from None


def md5sum(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, dest: Path, md5: str, *, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` through ``dest.part``, resuming a partial file with an HTTP Range request.

    A server that ignores the Range (status 200) is read from the start again. The finished file must have
    ``md5``; otherwise it is deleted and the error says so.
    """
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = have > 0 and response.status == 206
            length = response.headers.get("Content-Length")
            total = (int(length) + (have if resumed else 0)) if length else None
            with part.open("ab" if resumed else "wb") as out, _progress() as progress:
                task = progress.add_task(dest.name, total=total, completed=have if resumed else 0)
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    progress.advance(task, len(chunk))
    except urllib.error.HTTPError as exc:
        if exc.code != 416 or not have:
            raise ResnetsError(
                f"cannot download {url} (HTTP {exc.code}); check the URL or fetch the file by hand."
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ResnetsError(
            f"cannot download {url} ({reason}); check the connection (a rerun resumes the partial file) "
            f"or put {dest.name} in {dest.parent}."
        ) from None
    actual = md5sum(part)
    if actual != md5:
        part.unlink()
        raise ResnetsError(f"the download of {url} has md5 {actual}, not {md5}; the bad file was deleted: run again.")
    part.replace(dest)
    return dest


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)


def _locate(name: str, root: Path, archive: Archive, fetch: bool) -> tuple[ImageSet, ImageSet, list[str], str]:
    """Find (or fetch) the data in ``root``: (train, test, class names, what was read)."""
    train_npz, test_npz = root / f"{name}_train.npz", root / f"{name}_test.npz"
    if train_npz.is_file() and test_npz.is_file():
        x, y, names = _read_npz(train_npz)
        train = _from_hwc(x, y, archive.num_classes, str(train_npz))
        x, y, _ = _read_npz(test_npz)
        return train, _from_hwc(x, y, archive.num_classes, str(test_npz)), names, "npz"
    folder = _batch_folder(root, archive)
    tar_path = root / archive.filename
    if folder is None and not tar_path.is_file() and fetch:
        download(archive.url, tar_path, archive.md5)
    if folder is None and tar_path.is_file():
        extract(tar_path, root)
        folder = _batch_folder(root, archive)
        if folder is None:
            raise ResnetsError(f"{tar_path} does not hold {archive.folder}/ with the {name} batches; is it the "
                               "right archive?")
    if folder is None:
        raise ResnetsError(
            f"no {name} data in {root}: expected {name}_train.npz + {name}_test.npz, {archive.folder}/ or "
            f"{archive.filename}; add download=true to fetch it."
        )
    return *_read_batches(folder, archive), str(folder)


def _load(name: str, arg: str, seed: int, val_fraction: float | None, limit: int | None,
          options: dict[str, Any]) -> DataBundle:
    check_options(name, options, _OPTIONS)
    base = ARCHIVES[name]
    archive = dataclasses.replace(base, url=options.get("url", base.url), md5=options.get("md5", base.md5))
    fetch = as_bool(name, "download", options.get("download", False))
    paper_split = as_bool(name, "paper_split", options.get("paper_split", False))
    if paper_split and val_fraction is not None:
        raise ResnetsError(f"{name}: give paper_split or val_fraction, not both (paper_split is val_fraction 0.1).")
    root = as_directory(name, arg, create=fetch)
    train, test, names, origin = _locate(name, root, archive, fetch)
    if len(names) != archive.num_classes:
        names = [str(i) for i in range(archive.num_classes)]
    mean, std = STATS[name]
    bundle = DataBundle(
        name=name,
        source=f"{name}:{arg}",
        classes=names,
        train=train,
        val=None,
        test=test,
        preprocessing=Preprocessing(size=(32, 32), mean=mean, std=std),
        description=f"{name.upper()}: {archive.num_classes} classes of 32x32 RGB photos (Krizhevsky, 2009)",
        notes=[f"read from {origin}"],
    )
    finish(bundle, seed=seed, val_fraction=0.1 if paper_split else val_fraction, limit=limit)
    for split in (bundle.train, bundle.val, bundle.test):
        if isinstance(split, ImageSet):
            split.images = split.images.contiguous()
    return bundle


def load_cifar10(arg: str, *, seed: int = 0, val_fraction: float | None = None, limit: int | None = None,
                 **source_options: Any) -> DataBundle:
    """CIFAR-10 from ``DIR`` (module docstring). Options: ``paper_split``, ``download``, ``url``, ``md5``."""
    return _load("cifar10", arg, seed, val_fraction, limit, source_options)


def load_cifar100(arg: str, *, seed: int = 0, val_fraction: float | None = None, limit: int | None = None,
                  **source_options: Any) -> DataBundle:
    """CIFAR-100 (fine labels) from ``DIR`` (module docstring). Options as for :func:`load_cifar10`."""
    return _load("cifar100", arg, seed, val_fraction, limit, source_options)


DATA_SOURCES["cifar10"] = load_cifar10
DATA_SOURCES["cifar100"] = load_cifar100
