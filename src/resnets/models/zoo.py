"""The model zoo: named specs, one declarative line each, and ``create_model`` / ``list_models``.

Adding a depth or a family is a line here (ResNet-200 below is one). Parameter counts are pinned by
``tests/models/test_zoo.py``; the figures quoted in descriptions are those counts.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from resnets.errors import ResnetsError
from resnets.models.builder import build_model
from resnets.models.network import Network
from resnets.models.spec import (
    GoogLeNetSpec,
    HeadSpec,
    InceptionSpec,
    NetSpec,
    ResNetSpec,
    StageSpec,
    StemSpec,
    override_spec,
)


@dataclass(frozen=True)
class ModelInfo:
    """A zoo entry: its spec, its family and a sentence on its layout (and where it departs from the paper)."""

    name: str
    family: str
    description: str
    spec: NetSpec


_ZOO: dict[str, ModelInfo] = {}


def register(spec: NetSpec, family: str, description: str) -> None:
    """Add a named spec to the zoo (the name is the spec's)."""
    if spec.name in _ZOO:
        raise ValueError(f"a model named {spec.name!r} is already registered.")
    _ZOO[spec.name] = ModelInfo(spec.name, family, description, spec)


def stages(
    block: str, depths: Sequence[int], widths: Sequence[int], strides: Sequence[int]
) -> tuple[StageSpec, ...]:
    """Stage specs from parallel lists, the way papers tabulate them."""
    if not len(depths) == len(widths) == len(strides):
        raise ValueError("depths, widths and strides need one entry per stage.")
    return tuple(StageSpec(block, d, w, s) for d, w, s in zip(depths, widths, strides, strict=True))  # type: ignore[arg-type]


# --- the layouts ---------------------------------------------------------------------------------------

IMAGENET_WIDTHS = (64, 128, 256, 512)
KERAS_LAYERS = dict(conv_bias=True, bn_eps=1.001e-5, bn_momentum=0.01, init="glorot")


def imagenet(
    name: str, block: str, depths: Sequence[int], *, strides: Sequence[int] = (1, 2, 2, 2), **kw: Any
) -> ResNetSpec:
    """The ImageNet ResNets (paper Table 1): 7x7/2 stem + 3x3/2 max-pool, four stages 64..512, 224x224."""
    return ResNetSpec(name=name, stages=stages(block, depths, IMAGENET_WIDTHS, strides), **kw)


def cifar(
    name: str, depth: int, *, block: str = "basic", widths: Sequence[int] = (16, 32, 64), **kw: Any
) -> ResNetSpec:
    """The CIFAR nets (paper section 4.2): a 3x3 conv to 16, three stages of ``n`` blocks, 32x32 input;
    ``depth = 6n + 2`` with basic blocks, ``9n + 2`` with bottlenecks. Option-A shortcuts by default."""
    per_block = 3 if block == "bottleneck" else 2
    n, rest = divmod(depth - 2, 3 * per_block)
    if rest or n < 1:
        raise ValueError(f"a CIFAR net with {block} blocks has depth {3 * per_block}n + 2, not {depth}.")
    kw.setdefault("shortcut", "A")
    return ResNetSpec(
        name=name,
        stages=stages(block, (n, n, n), widths, (1, 2, 2)),
        stem=StemSpec(width=widths[0], kernel=3, stride=1, pool="none"),
        head=HeadSpec(classes=10),
        input_size=(3, 32, 32),
        **kw,
    )


def googlenet(name: str, **kw: Any) -> GoogLeNetSpec:
    """Inception v1's widths (paper Table 1); the layout options are GoogLeNetSpec's fields."""
    i = InceptionSpec
    groups = (
        (i(64, (96, 128), (16, 32), 32), i(128, (128, 192), (32, 96), 64)),
        (i(192, (96, 208), (16, 48), 64), i(160, (112, 224), (24, 64), 64), i(128, (128, 256), (24, 64), 64),
         i(112, (144, 288), (32, 64), 64), i(256, (160, 320), (32, 128), 128)),
        (i(256, (160, 320), (32, 128), 128), i(384, (192, 384), (48, 128), 128)),
    )
    return GoogLeNetSpec(name=name, stages=groups, **kw)


def plain(spec: ResNetSpec, name: str) -> ResNetSpec:
    """The plain twin of a residual spec: the same layers, no shortcuts (the paper's degradation nets)."""
    return replace(spec, name=name, residual=False)


# --- the zoo -------------------------------------------------------------------------------------------

_TV = "torchvision layout (stride on the 3x3: 'v1.5')"
register(imagenet("resnet18", "basic", (2, 2, 2, 2)), "imagenet", f"ResNet-18, {_TV}")
register(imagenet("resnet34", "basic", (3, 4, 6, 3)), "imagenet", f"ResNet-34, {_TV}")
register(imagenet("resnet50", "bottleneck", (3, 4, 6, 3)), "imagenet", f"ResNet-50, {_TV}")
register(imagenet("resnet101", "bottleneck", (3, 4, 23, 3)), "imagenet", f"ResNet-101, {_TV}")
register(imagenet("resnet152", "bottleneck", (3, 8, 36, 3)), "imagenet", f"ResNet-152, {_TV}")
register(imagenet("resnet200", "bottleneck", (3, 24, 36, 3)), "imagenet", f"ResNet-200 (He et al., 2016), {_TV}")
register(imagenet("resnet50_v1", "bottleneck", (3, 4, 6, 3), stride_on="1x1"), "imagenet",
         "ResNet-50 as the paper has it: the stride on the first 1x1 of a bottleneck")
register(imagenet("resnet50d", "bottleneck", (3, 4, 6, 3), shortcut="D"), "imagenet",
         "ResNet-50 with ResNet-D shortcuts (average-pool, then a stride-1 projection)")
register(imagenet("wide_resnet50_2", "bottleneck", (3, 4, 6, 3), base_width=128), "imagenet",
         "Wide ResNet-50-2 (Zagoruyko & Komodakis, 2016): bottlenecks twice as wide inside")
register(imagenet("resnext50_32x4d", "bottleneck", (3, 4, 6, 3), groups=32, base_width=4), "imagenet",
         "ResNeXt-50 32x4d (Xie et al., 2017): 32 groups of width 4 in the 3x3")
register(plain(_ZOO["resnet18"].spec, "plain18"), "plain", "ResNet-18's plain twin (paper Table 2)")
register(plain(_ZOO["resnet34"].spec, "plain34"), "plain", "ResNet-34's plain twin (paper Table 2)")

for _depth in (20, 32, 44, 56, 110, 1202):
    register(cifar(f"resnet{_depth}", _depth), "cifar",
             f"CIFAR ResNet-{_depth} (paper Table 6): option-A zero-pad shortcuts, widths 16/32/64")
for _depth in (20, 32, 44, 56, 110):
    register(plain(cifar(f"resnet{_depth}", _depth), f"plain{_depth}"), "plain",
             f"CIFAR plain-{_depth}: ResNet-{_depth} without shortcuts (paper Figure 6)")
register(cifar("preact_resnet110", 110, preact=True, shortcut="B"), "cifar",
         "CIFAR pre-activation ResNet-110 (He et al., 2016): basic blocks, projection where the shape changes")
register(cifar("preact_resnet164", 164, block="bottleneck", preact=True, shortcut="B"), "cifar",
         "CIFAR pre-activation ResNet-164 (He et al., 2016): bottlenecks, outputs 64/128/256")

register(
    ResNetSpec(
        name="resnet18_cifar",
        stages=stages("basic", (2, 2, 2, 2), IMAGENET_WIDTHS, (1, 2, 2, 2)),
        stem=StemSpec(width=64, kernel=3, stride=1, pool="none"),
        head=HeadSpec(classes=10),
        input_size=(3, 32, 32),
    ),
    "cifar",
    "ResNet-18 with a 3x3/1 stem and no max-pool, for 32x32 images (the TF2 subclassed example's layout)",
)
register(
    ResNetSpec(
        name="resnet50_course",
        stages=stages("bottleneck", (3, 4, 6, 3), IMAGENET_WIDTHS, (1, 2, 2, 2)),
        stem=StemSpec(width=64, kernel=7, stride=2, padding=3, pool="max", pool_padding=0),
        head=HeadSpec(pool="avg2x2", classes=6),
        input_size=(3, 64, 64),
        stride_on="1x1",
        conv_bias=True,
        bn_eps=1e-3,
        bn_momentum=0.01,
        init="glorot",
    ),
    "course",
    "The course's ResNet50 for 64x64 SIGNS (Keras layout: conv biases, stride on the first 1x1, "
    "ZeroPadding 3 + 7x7/2, valid 3x3/2 max-pool, 2x2 average pool + flatten + dense; softmax in the loss)",
)
register(
    ResNetSpec(
        name="resnet45",
        stages=stages("basic_1x1", (3, 4, 6, 6, 3), (32, 64, 128, 256, 512), (2, 1, 2, 1, 1)),
        stem=StemSpec(width=32, kernel=3, stride=1, pool="none"),
        head=HeadSpec(pool="none", classes=0),
        input_size=(3, 32, 128),
    ),
    "ocr",
    "ResNet45, the ABINet / PaddleOCR text-recognition backbone: 1x1 -> 3x3 blocks, 3x32x128 -> 512x8x32",
)

for _depth, _depths in ((50, (3, 4, 6, 3)), (101, (3, 4, 23, 3)), (152, (3, 8, 36, 3))):
    register(imagenet(f"resnet{_depth}_keras", "bottleneck", _depths, stride_on="1x1", **KERAS_LAYERS), "keras",
             f"Keras applications ResNet{_depth} (v1): conv biases, BN eps 1.001e-5, stride on the 1x1")
    # Keras's ResNetV2 strides stages 2-4 at their last block, and stage 5 not at all; its stem pools
    # zero-padded, un-normalised conv outputs.
    register(
        imagenet(f"resnet{_depth}v2_keras", "bottleneck", _depths, strides=(2, 2, 2, 1), preact=True,
                 stride_block="last", stride_only_shortcut="subsample", stem=StemSpec(pool_zero_pad=True),
                 **KERAS_LAYERS),
        "keras",
        f"Keras applications ResNet{_depth}V2: pre-activation, the stride on the 3x3 of each stage's last block",
    )

register(googlenet("googlenet"), "inception",
         "GoogLeNet (Inception v1) as the paper and d2l write it: conv + ReLU with biases, no BN, no aux heads")
register(googlenet("googlenet_bn", batch_norm=True, branch3_kernel=3, pool_mode="ceil", head=HeadSpec(dropout=0.2),
                   init="trunc_normal"),
         "inception", "GoogLeNet in torchvision's layout: BN convs, 3x3 in the '5x5' path, aux heads off")


# --- the public functions ------------------------------------------------------------------------------


def list_models(pattern: str = "*", *, family: str | None = None) -> list[str]:
    """Names in the zoo matching a shell-style ``pattern`` (and ``family``), in registration order."""
    return [n for n, info in _ZOO.items() if fnmatch.fnmatch(n, pattern) and family in (None, info.family)]


def model_info(name: str) -> ModelInfo:
    """The zoo entry for ``name``; an unknown name raises with the closest names."""
    try:
        return _ZOO[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_ZOO), n=3, cutoff=0.5)
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise ResnetsError(f"unknown model {name!r}{hint} (`resnets models` lists them all).") from None


def get_spec(name: str, **overrides: Any) -> NetSpec:
    """The spec of a zoo model, with ``overrides`` applied (see :func:`override_spec`)."""
    spec = model_info(name).spec
    return override_spec(spec, **overrides) if overrides else spec


def create_model(
    name: str | NetSpec,
    *,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **overrides: Any,
) -> Network:
    """Build a zoo model by name (or any spec), e.g. ``create_model("resnet50", num_classes=10)``.

    Args:
        name: a zoo name (``list_models()``) or a spec.
        features_only: backbone mode: ``forward`` returns feature maps (``out_indices``; 0 is the stem).
        **overrides: spec fields (``shortcut="B"``, ``zero_init_last=True``, ``norm="group"``...) and the
            head words ``num_classes``, ``global_pool``, ``head_activation``, ``drop_rate``, ``in_chans``.
    """
    spec = get_spec(name, **overrides) if isinstance(name, str) else override_spec(name, **overrides)
    return build_model(spec, features_only=features_only, out_indices=out_indices)
