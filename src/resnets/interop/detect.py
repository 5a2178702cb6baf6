"""What a weight file holds, told by its content (magic bytes, then its structure), never by its suffix alone.

- ``keras-h5``: HDF5 with ``model_weights`` (``model.save("x.h5")``) or a ``layer_names`` attribute
  (Keras 2's ``save_weights("x.h5")``);
- ``keras-weights``: HDF5 with ``layers`` and ``vars`` groups (Keras 3 ``save_weights("x.weights.h5")``);
- ``keras-archive``: a zip with ``config.json`` and ``model.weights.h5`` (``model.save("x.keras")``);
- ``torch``: a zip with a ``data.pkl`` (``torch.save`` since PyTorch 1.6) or a bare pickle (older);
- ``resnets``: a safetensors file whose metadata says it is a resnets checkpoint, or a run folder;
- ``safetensors``: any other safetensors file (a torchvision / timm state dict).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import h5py
import safetensors

from resnets.errors import ResnetsError
from resnets.training.checkpoint import BEST, FORMAT, LAST

FORMATS: dict[str, str] = {
    "keras-h5": "Keras legacy HDF5",
    "keras-weights": "Keras 3 .weights.h5",
    "keras-archive": "Keras 3 .keras archive",
    "torch": "PyTorch state dict (torch.save)",
    "safetensors": "safetensors state dict",
    "resnets": "resnets checkpoint",
}
"""Every format :func:`detect_format` can name, with the words messages use for it."""

_HDF5 = b"\x89HDF\r\n\x1a\n"
_ZIP = b"PK\x03\x04"


def detect_format(path: str | Path) -> str:
    """The format of ``path`` (module docstring); a file that is none of them, or is cut short, raises."""
    path = Path(path)
    if path.is_dir():
        if any((path / name).is_file() for name in (BEST, LAST)):
            return "resnets"
        raise ResnetsError(f"{path} is a folder without {BEST} or {LAST}; give a weight file or a run folder.")
    if not path.is_file():
        raise ResnetsError(f"no file at {path}; check the path.")
    with open(path, "rb") as f:
        head = f.read(16)
    size = path.stat().st_size
    if head.startswith(_HDF5):
        return _hdf5_kind(path)
    if head.startswith(_ZIP):
        return _zip_kind(path)
    if len(head) >= 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return _safetensors_kind(path)
    if head[:1] == b"\x80":
        return "torch"
    raise ResnetsError(
        f"cannot tell what {path} holds: it is not HDF5 (Keras), a zip (.keras, .pth), safetensors or a "
        "PyTorch file, or it is cut short."
    )


def _hdf5_kind(path: Path) -> str:
    try:
        with h5py.File(path, "r") as f:
            if "layers" in f and "vars" in f:
                return "keras-weights"
            if "model_weights" in f or "layer_names" in f.attrs:
                return "keras-h5"
    except OSError as exc:
        raise ResnetsError(f"{path} is an HDF5 file that cannot be read (truncated or damaged: {exc}).") from None
    raise ResnetsError(f"{path} is an HDF5 file but not a Keras model or weights file.")


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise ResnetsError(
            f"{path} starts like a zip archive (.keras, .pth) but cannot be read: truncated or damaged."
        ) from None
    if "config.json" in names and "model.weights.h5" in names:
        return "keras-archive"
    if any(name.endswith("data.pkl") for name in names):
        return "torch"
    raise ResnetsError(f"{path} is a zip archive but neither a Keras .keras archive nor a PyTorch state dict.")


def _safetensors_kind(path: Path) -> str:
    try:
        with safetensors.safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except (safetensors.SafetensorError, OSError, json.JSONDecodeError) as exc:
        raise ResnetsError(f"{path} is not a readable safetensors file (truncated or damaged: {exc}).") from None
    return "resnets" if metadata.get("format") == FORMAT else "safetensors"
