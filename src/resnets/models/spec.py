"""Networks as data: frozen dataclass specs that one builder turns into modules.

A spec holds every choice that makes one ResNet differ from another, including the places where the
paper and its implementations disagree, each a named field with its default stated:

- ``stride_on``: the paper's v1 (and Keras, and the course) strides on the first 1x1 of a bottleneck;
  torchvision's "v1.5" on the 3x3, which is the default here (``"3x3"``).
- ``shortcut``: the paper's options A (zero-pad), B (project where the shape changes), C (project
  always), plus D (average-pool then project, ResNet-D). Default B.
- ``stride_block``: the first block of a stage strides (the paper); Keras's ResNetV2 strides the last.
- ``conv_bias``, ``bn_eps``, ``bn_momentum`` (PyTorch's convention: Keras's 0.99 is 0.01 here), ``init``:
  what makes a Keras layout weight-exact.
- ``zero_init_last``: start every residual branch at zero (Goyal et al., 2017). Default off, as the paper.

A spec round-trips through a dict, JSON and YAML (:func:`spec_to_dict`, :func:`spec_from_dict`); it
carries a schema version and travels inside every checkpoint. Invalid specs raise ``ValueError`` with one
sentence saying what to fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

import yaml

from resnets.blocks.layers import ACTIVATIONS, NORMS, LayerConfig

SCHEMA_VERSION = 1

BlockKind = Literal["basic", "basic_1x1", "bottleneck"]
EXPANSION: dict[str, int] = {"basic": 1, "basic_1x1": 1, "bottleneck": 4}
"""Output channels per unit of stage width: a bottleneck stage of width 64 outputs 256."""

INITS = ("kaiming", "glorot", "trunc_normal", "torch")
"""Weight initialisations: ``kaiming`` (normal, fan-out, ReLU gain: torchvision), ``glorot`` (uniform,
zero biases: Keras), ``trunc_normal`` (std 0.01: torchvision's GoogLeNet), ``torch`` (PyTorch defaults)."""


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _positive(name: str, value: int) -> None:
    _check(isinstance(value, int) and value >= 1, f"{name} must be a positive integer, not {value!r}.")


def _choice(name: str, value: Any, choices: typing.Iterable[Any]) -> None:
    choices = tuple(choices)
    _check(value in choices, f"{name} must be one of {', '.join(map(repr, choices))}, not {value!r}.")


def _tuple_fields(obj: Any, *names: str) -> None:
    """Accept lists where a tuple is declared, so specs can be written by hand."""
    for name in names:
        value = getattr(obj, name)
        if isinstance(value, list):
            object.__setattr__(obj, name, tuple(value))


@dataclass(frozen=True)
class StageSpec:
    """One stage: ``depth`` blocks of one kind, ``width`` channels (a bottleneck outputs 4 x width),
    ``stride`` applied once, by the first block (or the last: ``ResNetSpec.stride_block``)."""

    block: BlockKind
    depth: int
    width: int
    stride: int = 1

    def __post_init__(self) -> None:
        _choice("a stage's block", self.block, EXPANSION)
        _positive("a stage's depth", self.depth)
        _positive("a stage's width", self.width)
        _positive("a stage's stride", self.stride)

    @property
    def out_channels(self) -> int:
        return self.width * EXPANSION[self.block]


@dataclass(frozen=True)
class StemSpec:
    """The layers before the first stage: a ``kernel`` x ``kernel`` conv (stride, padding), its norm and
    activation (left out in pre-activation nets), then an optional max-pool.

    ``pool_zero_pad`` pads the max-pool's input with zeros (Keras's ``ZeroPadding2D`` + valid pool) rather
    than -inf (PyTorch's). They differ only where a border window holds nothing but negative values: after
    Keras's ResNetV2 stem, which has no norm or ReLU before its pool. Default off.
    """

    width: int = 64
    kernel: int = 7
    stride: int = 2
    padding: int | None = None
    pool: Literal["max", "none"] = "max"
    pool_kernel: int = 3
    pool_stride: int = 2
    pool_padding: int = 1
    pool_zero_pad: bool = False

    def __post_init__(self) -> None:
        _positive("the stem's width", self.width)
        _positive("the stem's kernel", self.kernel)
        _positive("the stem's stride", self.stride)
        _choice("the stem's pool", self.pool, ("max", "none"))
        _check(
            2 * self.pool_padding <= self.pool_kernel,
            "the stem's pool_padding must be at most half its pool_kernel.",
        )

    @property
    def conv_padding(self) -> int:
        """Explicit padding, or "same" padding for the kernel (Keras's ZeroPadding2D(3) + 7x7 is 3)."""
        return self.kernel // 2 if self.padding is None else self.padding


@dataclass(frozen=True)
class HeadSpec:
    """The classifier, in Keras's words: ``pool`` (``avg``, ``max``, ``avg2x2``: the course's 2x2
    average pool then flatten, or ``none``), ``classes`` (0: no classifier, the features are the output),
    an output ``activation`` and a ``dropout`` before the classifier."""

    pool: Literal["avg", "max", "avg2x2", "none"] = "avg"
    classes: int = 1000
    activation: Literal["none", "softmax", "tanh"] = "none"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        _choice("the head's pool", self.pool, ("avg", "max", "avg2x2", "none"))
        _check(
            isinstance(self.classes, int) and self.classes >= 0,
            f"classes must be 0 (no classifier) or a positive integer, not {self.classes!r}.",
        )
        _choice("the head's activation", self.activation, ("none", "softmax", "tanh"))
        _check(0.0 <= self.dropout < 1.0, f"the head's dropout must be in [0, 1), not {self.dropout}.")


@dataclass(frozen=True)
class ResNetSpec:
    """A residual (or plain) network: stem, stages, head, and every layout choice (module docstring)."""

    kind: ClassVar[str] = "resnet"

    name: str
    stages: tuple[StageSpec, ...]
    stem: StemSpec = field(default_factory=StemSpec)
    head: HeadSpec = field(default_factory=HeadSpec)
    input_size: tuple[int, int, int] = (3, 224, 224)
    residual: bool = True
    preact: bool = False
    shortcut: Literal["A", "B", "C", "D"] = "B"
    stride_only_shortcut: Literal["projection", "subsample"] = "projection"
    stride_on: Literal["1x1", "3x3"] = "3x3"
    stride_block: Literal["first", "last"] = "first"
    groups: int = 1
    base_width: int = 64
    bottleneck_kernel: int = 3
    norm: Literal["batch", "group", "none"] = "batch"
    act: str = "relu"
    conv_bias: bool = False
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    gn_groups: int = 32
    zero_init_last: bool = False
    drop_path_rate: float = 0.0
    init: Literal["kaiming", "glorot", "trunc_normal", "torch"] = "kaiming"
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _tuple_fields(self, "stages", "input_size")
        _check(bool(self.name) and isinstance(self.name, str), "a spec needs a non-empty name.")
        _check(len(self.stages) > 0, "a network needs at least one stage.")
        _check(
            all(isinstance(s, StageSpec) for s in self.stages),
            "stages must be StageSpec objects (or dicts, through spec_from_dict).",
        )
        _check(
            len(self.input_size) == 3 and all(isinstance(v, int) and v >= 1 for v in self.input_size),
            f"input_size must be three positive integers (C, H, W), not {self.input_size!r}.",
        )
        _choice("shortcut", self.shortcut, ("A", "B", "C", "D"))
        _choice("stride_only_shortcut", self.stride_only_shortcut, ("projection", "subsample"))
        _choice("stride_on", self.stride_on, ("1x1", "3x3"))
        _choice("stride_block", self.stride_block, ("first", "last"))
        _choice("norm", self.norm, NORMS)
        _choice("act", self.act, ACTIVATIONS)
        _choice("init", self.init, INITS)
        _positive("groups", self.groups)
        _positive("base_width", self.base_width)
        _check(self.bottleneck_kernel % 2 == 1, "bottleneck_kernel must be odd.")
        _check(self.bn_eps > 0, "bn_eps must be positive.")
        _check(0.0 < self.bn_momentum <= 1.0, "bn_momentum must be in (0, 1] (PyTorch's convention).")
        _check(0.0 <= self.drop_path_rate < 1.0, "drop_path_rate must be in [0, 1).")
        _check(
            self.groups == 1 or all(s.block == "bottleneck" for s in self.stages),
            "groups > 1 (ResNeXt) needs bottleneck stages.",
        )
        if self.shortcut == "A":
            widths = [self.stem.width] + [s.out_channels for s in self.stages]
            _check(
                all(b >= a for a, b in itertools.pairwise(widths)),
                "shortcut option A can only add channels; use option B where a stage narrows.",
            )

    @property
    def in_chans(self) -> int:
        return self.input_size[0]

    @property
    def num_features(self) -> int:
        """Channels of the last stage: the classifier's input after global pooling."""
        return self.stages[-1].out_channels

    @property
    def depth(self) -> int:
        """Weighted layers as the paper counts them: convolutions on the main path plus the classifier."""
        convs = sum(s.depth * (3 if s.block == "bottleneck" else 2) for s in self.stages)
        return 1 + convs + (1 if self.head.classes else 0)

    @property
    def layer_config(self) -> LayerConfig:
        return LayerConfig(
            norm=self.norm,
            act=self.act,  # type: ignore[arg-type]
            conv_bias=self.conv_bias,
            bn_eps=self.bn_eps,
            bn_momentum=self.bn_momentum,
            gn_groups=self.gn_groups,
        )


@dataclass(frozen=True)
class InceptionSpec:
    """One Inception module's widths: ``c1``, ``(c2a, c2b)``, ``(c3a, c3b)``, ``c4``."""

    c1: int
    c2: tuple[int, int]
    c3: tuple[int, int]
    c4: int

    def __post_init__(self) -> None:
        _tuple_fields(self, "c2", "c3")
        for value in (self.c1, *self.c2, *self.c3, self.c4):
            _positive("an Inception width", value)

    @property
    def out_channels(self) -> int:
        return self.c1 + self.c2[1] + self.c3[1] + self.c4


@dataclass(frozen=True)
class GoogLeNetSpec:
    """GoogLeNet (Inception v1): stem, three groups of Inception modules (3, 4, 5) with max-pools between,
    head. ``batch_norm``, ``branch3_kernel`` and ``pool_mode`` name where torchvision departs from the
    paper: BN convs, a 3x3 in the "5x5" path, ``ceil_mode`` pools with a 2x2 pool before group 5."""

    kind: ClassVar[str] = "googlenet"

    name: str
    stages: tuple[tuple[InceptionSpec, ...], ...]
    head: HeadSpec = field(default_factory=HeadSpec)
    input_size: tuple[int, int, int] = (3, 224, 224)
    batch_norm: bool = False
    bn_eps: float = 1e-3
    bn_momentum: float = 0.1
    branch3_kernel: int = 5
    pool_mode: Literal["padded", "ceil"] = "padded"
    aux_logits: bool = False
    init: Literal["kaiming", "glorot", "trunc_normal", "torch"] = "torch"
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _tuple_fields(self, "stages", "input_size")
        object.__setattr__(self, "stages", tuple(tuple(g) for g in self.stages))
        _check(len(self.stages) == 3, "GoogLeNet has three groups of Inception modules (3, 4 and 5).")
        _check(
            len(self.input_size) == 3 and all(isinstance(v, int) and v >= 1 for v in self.input_size),
            f"input_size must be three positive integers (C, H, W), not {self.input_size!r}.",
        )
        _choice("branch3_kernel", self.branch3_kernel, (3, 5))
        _choice("pool_mode", self.pool_mode, ("padded", "ceil"))
        _choice("init", self.init, INITS)
        _check(
            not self.aux_logits or len(self.stages[1]) == 5,
            "aux_logits needs the paper's five modules in group 4 (heads after 4a and 4d).",
        )

    @property
    def in_chans(self) -> int:
        return self.input_size[0]

    @property
    def num_features(self) -> int:
        return self.stages[-1][-1].out_channels

    @property
    def layer_config(self) -> LayerConfig:
        if self.batch_norm:
            return LayerConfig(bn_eps=self.bn_eps, bn_momentum=self.bn_momentum)
        return LayerConfig(norm="none", conv_bias=True)


NetSpec = ResNetSpec | GoogLeNetSpec
SPEC_TYPES: dict[str, type] = {"resnet": ResNetSpec, "googlenet": GoogLeNetSpec}


# --- serialisation -------------------------------------------------------------------------------------


def spec_to_dict(spec: NetSpec) -> dict[str, Any]:
    """A JSON-ready dict of the spec, with its ``type`` and ``schema_version``."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    return {"type": spec.kind, **plain(spec)}


def spec_from_dict(data: dict[str, Any]) -> NetSpec:
    """Rebuild a spec from :func:`spec_to_dict`'s output (or a hand-written dict), checking every field."""
    if not isinstance(data, dict):
        raise ValueError(f"a model spec must be a mapping, not {type(data).__name__}.")
    data = dict(data)
    kind = data.pop("type", "resnet")
    if kind not in SPEC_TYPES:
        raise ValueError(f"unknown spec type {kind!r}; expected one of {', '.join(SPEC_TYPES)}.")
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ValueError(
            f"this spec has schema version {version!r}, newer than this resnets understands "
            f"({SCHEMA_VERSION}); upgrade resnets to read it."
        )
    return _convert(SPEC_TYPES[kind], data, "spec")


def spec_to_json(spec: NetSpec, **kw: Any) -> str:
    return json.dumps(spec_to_dict(spec), **kw)


def spec_from_json(text: str) -> NetSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the model spec is not valid JSON ({exc.msg} at line {exc.lineno}).") from None
    return spec_from_dict(data)


def spec_to_yaml(spec: NetSpec) -> str:
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False)


def spec_from_yaml(text: str) -> NetSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"the model spec is not valid YAML ({exc}).") from None
    return spec_from_dict(data)


def _convert(tp: Any, value: Any, where: str) -> Any:
    """Turn plain JSON values into the declared type ``tp``, naming the path of the first bad value."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a mapping, not {type(value).__name__}.")
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp) if f.init]
        unknown = [k for k in value if k not in names]
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"{where} has an unknown field {unknown[0]!r}{hint}.")
        kwargs = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in value.items()}
        return tp(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where} must be a list, not {type(value).__name__}.")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{where} must have {len(args)} items, not {len(value)}.")
        return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is Literal:
        if value not in typing.get_args(tp):
            options = ", ".join(map(repr, typing.get_args(tp)))
            raise ValueError(f"{where} must be one of {options}, not {value!r}.")
        return value
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0])
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ValueError(f"{where} must be {getattr(tp, '__name__', tp)}, not {value!r}.")


# --- overrides -----------------------------------------------------------------------------------------

_HEAD_ALIASES = {"num_classes": "classes", "global_pool": "pool", "head_activation": "activation",
                 "drop_rate": "dropout"}


def override_spec(spec: NetSpec, **overrides: Any) -> NetSpec:
    """A copy of ``spec`` with fields replaced.

    Top-level fields by name, plus the friendly words users know from timm and Keras: ``num_classes``,
    ``global_pool``, ``head_activation``, ``drop_rate`` (the head's fields) and ``in_chans``.
    """
    top = {f.name for f in dataclasses.fields(spec) if f.init}
    head_kw: dict[str, Any] = {}
    top_kw: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in _HEAD_ALIASES:
            head_kw[_HEAD_ALIASES[key]] = value
        elif key == "in_chans":
            _positive("in_chans", value)
            top_kw["input_size"] = (value, *spec.input_size[1:])
        elif key in top:
            top_kw[key] = value
        else:
            known = sorted(top | set(_HEAD_ALIASES) | {"in_chans"})
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}."
            raise ValueError(f"{spec.name} has no option {key!r}{hint}")
    try:
        if head_kw:
            top_kw["head"] = dataclasses.replace(top_kw.get("head", spec.head), **head_kw)
        return dataclasses.replace(spec, **top_kw)
    except TypeError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ValueError(f"cannot apply {given} to {spec.name}: a value has the wrong type ({exc}).") from None
