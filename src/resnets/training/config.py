"""A training run's configuration: one flat, typed record resolved from a recipe, a file and flags.

Precedence, lowest first: the defaults below, the named recipe (a YAML file shipped in
``resnets/recipes/``), a ``--config FILE``, then explicit overrides (command-line flags or keyword
arguments). The resolved config is written into the run folder and into every checkpoint, so a run can
always be told apart and repeated. Unknown keys are refused with the closest known names.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from resnets.data.augment import TTA_MODES
from resnets.errors import ResnetsError

RECIPES = ("default", "course", "signs", "paper-cifar", "fast")


@dataclass
class TrainConfig:
    """Every knob of a run. ``epochs`` or ``iterations`` sets its length; the schedule scales with it."""

    model: str = "resnet20"
    model_spec: dict[str, Any] | None = None
    data: str | None = None
    recipe: str = "default"
    out: str | None = None
    seed: int = 0
    # length
    epochs: int = 4
    iterations: int | None = None
    batch_size: int = 128
    eval_batch_size: int = 256
    # optimisation
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.2
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    no_decay_bn_bias: bool = False
    flat_views: bool = True
    schedule: Literal["onecycle", "cosine", "multistep", "constant"] = "onecycle"
    warmup: float = 0.25
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])
    gamma: float = 0.1
    warmup_lr: float | None = None
    warmup_iterations: int = 0
    warmup_min_depth: int = 0
    label_smoothing: float = 0.1
    grad_clip: float | None = None
    ema: float = 0.0  # decay of an exponential moving average of the weights, evaluated and saved instead (0: off)
    # data
    val_fraction: float | None = None
    paper_split: bool = False
    train_on: str = "train"
    limit: int | None = None
    normalize: Literal["data", "x/255"] = "data"
    pad: int = 4
    crop: int = 0
    per_sample_crop: bool = True
    flip: bool = True
    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0
    rotate: float = 0.0
    scale: float = 0.0
    mixup: float = 0.0  # mixup's Beta alpha (0: off), data.Mix
    cutmix: float = 0.0  # CutMix's Beta alpha (0: off)
    workers: int = 2
    data_on_device: bool = True
    # model
    zero_init_last: bool | None = None
    drop_path_rate: float | None = None
    bn_momentum: float | None = None
    bn_recalibrate: bool = False
    bn_recalibrate_batches: int = 50
    sync_bn: bool = False
    # fine-tuning
    weights: str | None = None
    freeze: int = 0
    freeze_bn: bool = False
    backbone_lr_scale: float = 1.0
    # speed
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    gemm_convs: bool = True  # wide convolutions over small maps as matrix multiplies on the CPU (blocks.gemm)
    compile: Literal["auto", "on", "off"] = "off"
    cuda_graphs: Literal["auto", "on", "off"] = "auto"
    device: str = "auto"
    threads: int = 0
    deterministic: bool = False
    # reporting
    log_every: int = 20
    eval_every: int = 1
    checkpoint_every: float = 30.0  # seconds between rewrites of last.safetensors (0: every epoch; the end always)
    tta: Literal["none", "flip", "shift", "flip+shift"] = "none"  # views averaged in evaluation (data.tta_views)
    test_each_epoch: bool = False
    tensorboard: bool = False
    plots: bool = True
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_TYPES = get_type_hints(TrainConfig)


def _coerce(key: str, value: Any) -> Any:
    """``value`` as the type of config key ``key``: YAML reads ``1e-3`` as a string and ``2`` as an int."""
    kind, args = _TYPES[key], get_args(_TYPES[key])
    if get_origin(kind) in (Union, types.UnionType) and type(None) in args:
        if value is None:
            return None
        kind = next(a for a in args if a is not type(None))
    if kind is float:
        return _number(key, value)
    if kind is int:
        number = _number(key, value)
        if not math.isfinite(number) or number != int(number):
            raise ResnetsError(f"{key} must be a whole number, not {value!r}.")
        return int(number)
    if kind is bool and not isinstance(value, bool):
        raise ResnetsError(f"{key} must be true or false, not {value!r}.")
    if kind == list[float] and isinstance(value, list):
        return [_number(key, v) for v in value]
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ResnetsError(f"{key} must be a number, not {value!r}.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ResnetsError(f"{key} must be a number, not {value!r}.") from None


def _check_keys(data: dict[str, Any], where: str) -> None:
    for key in data:
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, list(_FIELDS), n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise ResnetsError(f"{where} has an unknown key {key!r}{hint}; `resnets train --help` lists them.")


def load_recipe(name: str) -> dict[str, Any]:
    """The settings of a named recipe shipped with the package."""
    if name not in RECIPES:
        close = difflib.get_close_matches(name, RECIPES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ResnetsError(f"unknown recipe {name!r}{hint}; recipes: {', '.join(RECIPES)}.")
    text = resources.files("resnets.recipes").joinpath(f"{name}.yaml").read_text()
    data = yaml.safe_load(text) or {}
    _check_keys(data, f"recipe {name}")
    return data


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ResnetsError(f"no config file at {path}.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ResnetsError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    if not isinstance(data, dict):
        raise ResnetsError(f"{path} must hold a mapping of config keys.")
    _check_keys(data, str(path))
    return data


def resolve_config(recipe: str | None = None, config_file: str | Path | None = None,
                   **overrides: Any) -> TrainConfig:
    """Defaults < recipe < config file < overrides; ``None`` overrides are ignored."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    _check_keys(overrides, "the options")
    from_file = read_config_file(config_file) if config_file else {}
    name = recipe or from_file.get("recipe") or "default"
    merged = {**load_recipe(name), **from_file, **overrides, "recipe": name}
    config = TrainConfig(**{key: _coerce(key, value) for key, value in merged.items()})
    validate(config)
    return config


def resolve_tta(config: dict[str, Any] | None, tta: str | None = None) -> str:
    """``tta`` if given, else the run's own setting from its resolved ``config`` (older runs: ``none``); checked."""
    tta = tta or str((config or {}).get("tta", "none"))
    if tta not in TTA_MODES:
        raise ResnetsError(f"unknown test-time augmentation {tta!r}; use one of: {', '.join(TTA_MODES)}.")
    return tta


def validate(c: TrainConfig) -> None:
    """Refuse values that cannot work, in one sentence each."""
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise ResnetsError(message)

    need(c.epochs >= 1, f"epochs must be at least 1, not {c.epochs}.")
    need(c.iterations is None or c.iterations >= 1, "iterations must be a positive number.")
    need(c.batch_size >= 1, f"batch_size must be a positive integer, not {c.batch_size}.")
    need(c.lr > 0, f"lr must be positive, not {c.lr}.")
    need(c.optimizer in ("sgd", "adam", "adamw"), f"optimizer must be sgd, adam or adamw, not {c.optimizer!r}.")
    need(c.schedule in ("onecycle", "cosine", "multistep", "constant"),
         f"schedule must be onecycle, cosine, multistep or constant, not {c.schedule!r}.")
    need(0 <= c.warmup < 1, f"warmup is a fraction of the run in [0, 1), not {c.warmup}.")
    need(all(0 < m < 1 for m in c.milestones), "milestones are fractions of the run, each in (0, 1).")
    need(0 <= c.label_smoothing < 1, "label_smoothing must be in [0, 1).")
    need(c.precision in ("auto", "fp32", "bf16", "fp16"), "precision must be auto, fp32, bf16 or fp16.")
    need(c.compile in ("auto", "on", "off"), "compile must be auto, on or off.")
    need(c.cuda_graphs in ("auto", "on", "off"), "cuda_graphs must be auto, on or off.")
    need(c.normalize in ("data", "x/255"), "normalize must be 'data' or 'x/255'.")
    need(c.val_fraction is None or 0 < c.val_fraction < 1, "val_fraction must be in (0, 1).")
    need(c.freeze >= 0, "freeze counts stages to freeze (0: none).")
    need(c.pad >= 0 and c.crop >= 0, "pad and crop are pixel counts (crop 0: the images' own size).")
    need(all(0 <= v < 1 for v in (c.brightness, c.contrast, c.saturation, c.scale)),
         "brightness, contrast, saturation and scale are fractions in [0, 1), e.g. 0.2 (0: off).")
    need(c.threads >= 0, "threads must be 0 (torch's default) or a positive count.")
    need(c.backbone_lr_scale > 0, "backbone_lr_scale must be positive.")
    need(c.ema == 0 or 0 < c.ema < 1, f"ema is a decay in (0, 1), e.g. 0.99 (0: off), not {c.ema}.")
    need(c.mixup >= 0 and c.cutmix >= 0, "mixup and cutmix are Beta alphas: 0 (off) or positive, e.g. 0.2 and 1.0.")
    need(c.tta in TTA_MODES, f"tta must be one of {', '.join(TTA_MODES)}, not {c.tta!r}.")
    need(c.log_every >= 1 and c.eval_every >= 1, "log_every and eval_every must be at least 1.")
    need(c.checkpoint_every >= 0, "checkpoint_every is seconds between checkpoints: 0 (every epoch) or more.")
