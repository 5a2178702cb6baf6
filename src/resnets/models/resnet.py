"""The residual network family, built from a :class:`~resnets.models.spec.ResNetSpec`.

Stem (conv, norm, act, max-pool), stages ``layer1..N`` of blocks, head ``fc``: torchvision's names, so its
and timm's weights load without a key map. A pre-activation net leaves the norm and activation out of the
stem and adds them after the last stage (``post_bn``, ``post_act``), as He et al. (2016) and Keras's
ResNetV2 do. Stochastic depth grows linearly from 0 at the first block to ``drop_path_rate`` at the last.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from resnets.blocks import (
    BasicBlock,
    Bottleneck,
    PreActBasicBlock,
    PreActBottleneck,
    zero_init_last,
)
from resnets.blocks.residual import _ConvChain
from resnets.models.network import Network, init_weights
from resnets.models.spec import ResNetSpec, StageSpec

_BLOCKS = {
    ("basic", False): BasicBlock,
    ("basic_1x1", False): BasicBlock,
    ("bottleneck", False): Bottleneck,
    ("basic", True): PreActBasicBlock,
    ("basic_1x1", True): PreActBasicBlock,
    ("bottleneck", True): PreActBottleneck,
}


def make_block(spec: ResNetSpec, stage: StageSpec, in_ch: int, stride: int, drop_path: float) -> nn.Module:
    """One block of ``stage`` as the spec lays it out."""
    cls = _BLOCKS[(stage.block, spec.preact)]
    common = dict(
        shortcut=spec.shortcut,
        stride_on=spec.stride_on,
        stride_only=spec.stride_only_shortcut,
        layers=spec.layer_config,
        drop_path=drop_path,
        residual=spec.residual,
    )
    if stage.block == "bottleneck":
        width = int(stage.width * spec.base_width / 64) * spec.groups
        filters = (width, width, stage.out_channels)
        return cls(in_ch, filters, spec.bottleneck_kernel, stride, groups=spec.groups, **common)
    kernels = (3, 3) if stage.block == "basic" else (1, 3)
    return cls(in_ch, stage.out_channels, stride, kernels=kernels, **common)


class ZeroPadMaxPool2d(nn.MaxPool2d):
    """Keras's ``ZeroPadding2D(padding)`` then a valid ``MaxPooling2D``: the border is zeros, not -inf."""

    def __init__(self, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__(kernel_size, stride, 0)
        self.zero_pad = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.zero_pad,) * 4))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, zero_pad={self.zero_pad}"


class ResNet(Network):
    """Any residual or plain network a :class:`ResNetSpec` describes."""

    spec: ResNetSpec

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__(spec)
        cfg = spec.layer_config
        stem = spec.stem
        self.conv1 = cfg.conv(spec.in_chans, stem.width, stem.kernel, stem.stride, padding=stem.conv_padding)
        if not spec.preact:
            self.bn1 = cfg.norm_layer(stem.width)
            self.act1 = cfg.act_layer()
        if stem.pool == "max":
            pool = ZeroPadMaxPool2d if stem.pool_zero_pad else nn.MaxPool2d
            self.maxpool = pool(stem.pool_kernel, stem.pool_stride, stem.pool_padding)
        total = sum(s.depth for s in spec.stages)
        in_ch, index = stem.width, 0
        for i, stage in enumerate(spec.stages, 1):
            strided = 0 if spec.stride_block == "first" else stage.depth - 1
            blocks = []
            for j in range(stage.depth):
                drop = spec.drop_path_rate * index / max(total - 1, 1)
                blocks.append(make_block(spec, stage, in_ch, stage.stride if j == strided else 1, drop))
                in_ch, index = stage.out_channels, index + 1
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        if spec.preact:
            self.post_bn = cfg.norm_layer(in_ch)
            self.post_act = cfg.act_layer()
        init_weights(self, spec.init)
        if spec.zero_init_last and spec.residual:
            for block in self.blocks():
                zero_init_last(block)
        self._finish()

    def feature_stages(self) -> list[list[str]]:
        layers = [f"layer{i}" for i in range(1, len(self.spec.stages) + 1)]
        stages = [["conv1", "bn1", "act1"], ["maxpool", layers[0]], *[[name] for name in layers[1:]]]
        if self.spec.preact:
            stages[-1] += ["post_bn", "post_act"]
        return stages

    def blocks(self) -> list[_ConvChain]:
        """Every block, in order: what a lab study iterates over."""
        return [m for m in self.modules() if isinstance(m, _ConvChain)]
