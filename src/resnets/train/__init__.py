"""Training, evaluation, prediction and checkpoints."""

from resnets.train.checkpoint import Checkpoint, load_checkpoint, resolve_checkpoint, save_checkpoint

__all__ = ["Checkpoint", "load_checkpoint", "resolve_checkpoint", "save_checkpoint"]
