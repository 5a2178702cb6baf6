"""Foreign formats in and deployable artefacts out: Keras (the course, Keras applications), torchvision,
timm and resnets checkpoints into our models; our models out to ONNX, ``torch.export``, safetensors and
Keras weights.

Each foreign format is a view of our own layout (a key map per format), loading is strict, and nothing
from a file is ever executed: HDF5 and JSON are read as data, ``.pth`` files only with
``torch.load(weights_only=True)``.
"""

from resnets.interop.convert import ConvertResult, convert
from resnets.interop.detect import FORMATS, detect_format
from resnets.interop.export import EXPORT_FORMATS, ExportResult, export
from resnets.interop.load import create_model, load_weights_file, preprocessing_for
from resnets.training.checkpoint import FOREIGN_READERS


def _read_for_training(path, spec):
    """`resnets train --weights FILE`: any format read here, as weights for ``spec``'s architecture (the
    trainer puts a fresh classifier on them where the class count differs)."""
    checkpoint = load_weights_file(spec, path)
    return checkpoint.weights, checkpoint.preprocessing


FOREIGN_READERS.append(_read_for_training)

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "ConvertResult",
    "ExportResult",
    "convert",
    "create_model",
    "detect_format",
    "export",
    "load_weights_file",
    "preprocessing_for",
]
