"""resnets: build, train, inspect, study, convert and export residual networks for image classification.

The public functions here are what the command line calls, one per sub-command.
"""

from resnets import lab
from resnets._version import __version__
from resnets.errors import ResnetsError
from resnets.inspect import diagram, summary, zoo_table
from resnets.interop import convert, create_model, export, load_weights_file
from resnets.models import build_model, get_spec, list_models, model_info
from resnets.serving import predict, serve
from resnets.training import evaluate, train

__all__ = [
    "ResnetsError",
    "__version__",
    "build_model",
    "convert",
    "create_model",
    "diagram",
    "evaluate",
    "export",
    "get_spec",
    "lab",
    "list_models",
    "load_weights_file",
    "model_info",
    "predict",
    "serve",
    "summary",
    "train",
    "zoo_table",
]
