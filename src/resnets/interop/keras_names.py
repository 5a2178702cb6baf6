"""Keras views of a ResNet: which Keras layer holds each of our modules, and in which order Keras lists it.

Two naming schemes, each a handful of templates applied to every block (not a list of 100+ names):

- the course's (deeplearning.ai, Keras 2): ``conv1``/``bn_conv1``, then ``res{stage}{block}_branch2{a,b,c}``
  and ``bn{stage}{block}_branch2{a,b,c}`` with blocks lettered ``a, b, ...``, the shortcut ``..._branch1``,
  the classifier ``fc{classes}`` (the course names its Dense ``'fc' + str(classes)``);
- Keras applications' (``ResNet50`` ... ``ResNet152V2``): ``conv1_conv``/``conv1_bn``, then
  ``conv{stage}_block{n}_{1,2,3}_conv`` / ``_bn``, the shortcut ``_0_conv`` / ``_0_bn``, in V2 the
  pre-activation norm ``_preact_bn`` and the final ``post_bn``, the classifier ``predictions``.

Keras's stage numbers start at 2 (``conv1`` is the stem): our ``layer1`` is its stage 2.

Files that keep no names (``.weights.h5`` numbers layers by class: ``conv2d_7``; the course's TF2 notebook
leaves its layers unnamed) are read by **Keras's layer order**, which :func:`keras_layers` reproduces per
class. Keras sorts a Functional model's layers by their depth from the output, so in a block with a
projection the main path's last conv and the shortcut conv (equally deep) come out in the order of
``Add``'s inputs: ``Add([shortcut, x])`` in Keras applications, ``Add([x, shortcut])`` in the course. The
resulting Conv2D order in the course's first block is 2a, 2b, 2c, branch1 (measured with Keras 3.15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from resnets.errors import ResnetsError
from resnets.models.resnet import ResNet

Kind = Literal["conv", "bn", "dense"]
KINDS: tuple[Kind, ...] = ("conv", "bn", "dense")
KERAS_CLASS: dict[str, str] = {"conv": "Conv2D", "bn": "BatchNormalization", "dense": "Dense"}
SNAKE_CLASS: dict[str, str] = {"conv": "conv2d", "bn": "batch_normalization", "dense": "dense"}
"""Keras's snake-cased class names: the group names of a ``.weights.h5`` (``conv2d``, ``conv2d_1``, ...)."""


@dataclass(frozen=True)
class KerasLayer:
    """One weighted Keras layer: its name in a scheme, its kind, and the module of ours that holds it."""

    name: str
    kind: Kind
    module: str


@dataclass(frozen=True)
class Scheme:
    """How one Keras code base names a ResNet's layers (module docstring); templates take ``stage``,
    ``block`` and ``part``."""

    name: str
    stem_conv: str
    stem_bn: str
    conv: str
    bn: str
    parts: tuple[str, ...]
    shortcut_part: str
    block_name: Callable[[int], str]
    classifier: str
    preact_part: str = "preact"
    post_bn: str = "post_bn"
    shortcut_first: bool = True
    """Keras lists the shortcut before the main path's last layer (``Add([shortcut, x])``)."""


COURSE = Scheme(
    name="course",
    stem_conv="conv1",
    stem_bn="bn_conv1",
    conv="res{stage}{block}_branch{part}",
    bn="bn{stage}{block}_branch{part}",
    parts=("2a", "2b", "2c"),
    shortcut_part="1",
    block_name=lambda j: "abcdefghijklmnopqrstuvwxyz"[j],
    classifier="fc{classes}",
    shortcut_first=False,
)
APPLICATIONS = Scheme(
    name="applications",
    stem_conv="conv1_conv",
    stem_bn="conv1_bn",
    conv="conv{stage}_block{block}_{part}_conv",
    bn="conv{stage}_block{block}_{part}_bn",
    parts=("1", "2", "3"),
    shortcut_part="0",
    block_name=lambda j: str(j + 1),
    classifier="predictions",
)
SCHEMES: dict[str, Scheme] = {s.name: s for s in (COURSE, APPLICATIONS)}


def scheme_for(model: nn.Module) -> Scheme:
    """The naming scheme of a model with a Keras layout: the course's for ``resnet50_course``, else
    Keras applications'. Models without a Keras layout (no conv biases) raise one sentence."""
    spec = getattr(model, "spec", None)
    if not isinstance(model, ResNet) or spec is None or not spec.conv_bias or spec.groups != 1:
        name = getattr(spec, "name", type(model).__name__)
        raise ResnetsError(
            f"{name} has no Keras layout; Keras weights map to resnet50_course and the resnet*_keras models."
        )
    return COURSE if spec.head.pool == "avg2x2" else APPLICATIONS


def keras_layers(model: ResNet, scheme: Scheme, *, shortcut_first: bool | None = None) -> list[KerasLayer]:
    """Every weighted Keras layer of ``model`` under ``scheme``, in Keras's layer order within each kind.

    Args:
        shortcut_first: the order of ``Add``'s inputs in the Keras code (module docstring); the
            scheme's own by default.
    """
    first = scheme.shortcut_first if shortcut_first is None else shortcut_first
    convs = [KerasLayer(scheme.stem_conv, "conv", "conv1")]
    bns = [KerasLayer(scheme.stem_bn, "bn", "bn1")] if hasattr(model, "bn1") else []
    preact = model.spec.preact
    for i in range(1, len(model.spec.stages) + 1):
        for j, block in enumerate(getattr(model, f"layer{i}")):
            stage, name = i + 1, scheme.block_name(j)

            def layer(kind: Kind, part: str, module: str, stage: int = stage, name: str = name) -> KerasLayer:
                template = scheme.conv if kind == "conv" else scheme.bn
                return KerasLayer(template.format(stage=stage, block=name, part=part), kind, module)

            prefix = f"layer{i}.{j}"
            depth = block.depth
            main_convs = [layer("conv", scheme.parts[k], f"{prefix}.conv{k + 1}") for k in range(depth)]
            if preact:
                bn_parts = [scheme.preact_part, *scheme.parts[: depth - 1]]
                main_bns = [layer("bn", p, f"{prefix}.bn{k + 1}") for k, p in enumerate(bn_parts)]
            else:
                main_bns = [layer("bn", scheme.parts[k], f"{prefix}.bn{k + 1}") for k in range(depth)]
            short_convs, short_bns = [], []
            if isinstance(block.downsample, nn.Sequential):
                for index, child in enumerate(block.downsample):
                    module = f"{prefix}.downsample.{index}"
                    if isinstance(child, nn.Conv2d):
                        short_convs.append(layer("conv", scheme.shortcut_part, module))
                    elif isinstance(child, nn.BatchNorm2d):
                        short_bns.append(layer("bn", scheme.shortcut_part, module))
            convs += _merge_last(main_convs, short_convs, first)
            bns += main_bns if preact else _merge_last(main_bns, short_bns, first)
    if preact and hasattr(model, "post_bn"):
        bns.append(KerasLayer(scheme.post_bn, "bn", "post_bn"))
    dense = []
    if isinstance(model.fc, nn.Linear):
        dense.append(KerasLayer(scheme.classifier.format(classes=model.fc.out_features), "dense", "fc"))
    return convs + bns + dense


def _merge_last(main: list[KerasLayer], shortcut: list[KerasLayer], shortcut_first: bool) -> list[KerasLayer]:
    """The main path with the shortcut's layers placed beside its last one, as deep as they are."""
    if not shortcut:
        return main
    pair = [*shortcut, main[-1]] if shortcut_first else [main[-1], *shortcut]
    return main[:-1] + pair
