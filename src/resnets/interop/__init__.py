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
