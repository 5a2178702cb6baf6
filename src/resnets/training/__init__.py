"""Training, evaluation and checkpoints."""

from resnets.training.checkpoint import (
    FOREIGN_READERS,
    Checkpoint,
    load_checkpoint,
    read_weights,
    resolve_checkpoint,
    save_checkpoint,
)
from resnets.training.config import RECIPES, TrainConfig, load_recipe, resolve_config
from resnets.training.evaluate import EvalResult, evaluate
from resnets.training.loop import TrainResult, train
from resnets.training.metrics import EvalMetrics, evaluate_batches

__all__ = [
    "FOREIGN_READERS",
    "RECIPES",
    "Checkpoint",
    "EvalMetrics",
    "EvalResult",
    "TrainConfig",
    "TrainResult",
    "evaluate",
    "evaluate_batches",
    "load_checkpoint",
    "load_recipe",
    "read_weights",
    "resolve_checkpoint",
    "resolve_config",
    "save_checkpoint",
    "train",
]
