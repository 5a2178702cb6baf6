"""The two shapes of a residual block, for any chain of convolutions.

- :class:`ResidualBlock`: the original post-activation unit (He et al., 2015, "Deep Residual Learning for
  Image Recognition"): ``act(F(x) + shortcut(x))`` where ``F`` is conv-norm-act ... conv-norm.
- :class:`PreActBlock`: the pre-activation unit (He et al., 2016, "Identity Mappings in Deep Residual
  Networks"): ``F(x) + shortcut(x)`` where ``F`` is norm-act-conv ... norm-act-conv, so the shortcut path
  from any block to any later one is a pure identity.

Both take ``residual=False`` to become their **plain twin**: the same layers, with no shortcut, the nets
of the paper's degradation experiment. The basic block and the bottleneck are these with kernel sizes
(3, 3) and (1, f, 1); see :mod:`resnets.blocks.basic` and :mod:`resnets.blocks.bottleneck`.

Layer names follow torchvision (``conv{k}``, ``bn{k}``, ``downsample``) so weights map without a table.
The response a lab study wants, "after the last norm, before the addition", is ``last_norm``'s output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from resnets.blocks.layers import DropPath, LayerConfig, stride_position
from resnets.blocks.shortcuts import make_shortcut


class _ConvChain(nn.Module):
    """What both block shapes share: the convolution widths, the stride placement and the shortcut."""

    residual: bool = True

    def __init__(
        self,
        in_ch: int,
        widths: Sequence[int],
        kernels: Sequence[int],
        stride: int = 1,
        *,
        groups: int = 1,
        shortcut: str = "B",
        stride_on: Literal["1x1", "3x3"] = "3x3",
        stride_only: Literal["projection", "subsample"] = "projection",
        layers: LayerConfig | None = None,
        zero_init_last: bool = False,
        drop_path: float = 0.0,
        residual: bool | None = None,
    ) -> None:
        super().__init__()
        if len(widths) != len(kernels) or not kernels:
            raise ValueError("a block needs one width per convolution kernel.")
        if stride < 1:
            raise ValueError(f"stride must be a positive integer, not {stride}.")
        self.cfg = layers or LayerConfig()
        self.in_channels = in_ch
        self.out_channels = widths[-1]
        self.kernels = tuple(kernels)
        self.stride = stride
        self.residual = type(self).residual if residual is None else residual
        self._stride_at = stride_position(self.kernels, stride_on)
        self._channels = (in_ch, *widths)
        self._groups = groups
        self._shortcut_args = (shortcut, stride_only)
        self._zero_init_last = zero_init_last
        self._drop_path = drop_path

    @property
    def depth(self) -> int:
        """Number of convolutions on the residual branch."""
        return len(self.kernels)

    @property
    def last_norm(self) -> nn.Module:
        """The residual branch's last norm: its output is the branch's response just before the addition
        (post-activation), or the input of the branch's last unit (pre-activation)."""
        return getattr(self, f"bn{self.depth}")

    def _conv(self, i: int) -> nn.Conv2d:
        k = self.kernels[i]
        return self.cfg.conv(
            self._channels[i],
            self._channels[i + 1],
            k,
            self.stride if i == self._stride_at else 1,
            groups=self._groups if k > 1 else 1,
        )

    def _add_shortcut(self, *, normalize: bool) -> None:
        option, stride_only = self._shortcut_args
        self.downsample = (
            make_shortcut(
                option,
                self.in_channels,
                self.out_channels,
                self.stride,
                layers=self.cfg,
                normalize=normalize,
                stride_only=stride_only,
            )
            if self.residual
            else None
        )
        if self.residual and self._drop_path:
            self.drop_path = DropPath(self._drop_path)

    def _branch_out(self, out: torch.Tensor) -> torch.Tensor:
        drop = getattr(self, "drop_path", None)
        return out if drop is None else drop(out)

    def extra_repr(self) -> str:
        kind = "residual" if self.residual else "plain"
        return f"{kind}, kernels={self.kernels}, stride={self.stride}"


class ResidualBlock(_ConvChain):
    """Post-activation residual block: ``act(F(x) + shortcut(x))`` (or ``act(F(x))`` when plain)."""

    def __init__(self, in_ch: int, widths: Sequence[int], kernels: Sequence[int], stride: int = 1, **kw) -> None:
        super().__init__(in_ch, widths, kernels, stride, **kw)
        for i in range(self.depth):
            setattr(self, f"conv{i + 1}", self._conv(i))
            setattr(self, f"bn{i + 1}", self.cfg.norm_layer(self._channels[i + 1]))
            setattr(self, f"act{i + 1}", self.cfg.act_layer())
        self._add_shortcut(normalize=True)
        if self._zero_init_last:
            zero_init_last(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for i in range(1, self.depth):
            out = getattr(self, f"act{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(out)))
        out = getattr(self, f"bn{self.depth}")(getattr(self, f"conv{self.depth}")(out))
        if self.residual:
            shortcut = x if self.downsample is None else self.downsample(x)
            out = self._branch_out(out).add_(shortcut)  # in place, as torchvision: one activation less to allocate
        return getattr(self, f"act{self.depth}")(out)


class PreActBlock(_ConvChain):
    """Pre-activation residual block: ``F(x) + shortcut(x)`` with ``F`` = (norm, act, conv) repeated.

    A projection shortcut reads the pre-activated input (``act(norm(x))``), as the paper's code and
    Keras's ResNetV2 do; an identity, zero-pad or subsample shortcut reads ``x`` itself. With
    ``layers.conv_bias`` only the convolutions not followed by a norm get a bias (the last one and the
    projection), as in Keras's ResNetV2.
    """

    def __init__(self, in_ch: int, widths: Sequence[int], kernels: Sequence[int], stride: int = 1, **kw) -> None:
        super().__init__(in_ch, widths, kernels, stride, **kw)
        for i in range(self.depth):
            setattr(self, f"bn{i + 1}", self.cfg.norm_layer(self._channels[i]))
            setattr(self, f"act{i + 1}", self.cfg.act_layer())
            conv = self._conv(i)
            if i < self.depth - 1 and conv.bias is not None:
                conv.register_parameter("bias", None)
            setattr(self, f"conv{i + 1}", conv)
        self._add_shortcut(normalize=False)
        self._project_preact = isinstance(self.downsample, nn.Sequential)
        if self._zero_init_last:
            zero_init_last(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        out = self.conv1(pre)
        for i in range(2, self.depth + 1):
            out = getattr(self, f"conv{i}")(getattr(self, f"act{i}")(getattr(self, f"bn{i}")(out)))
        if not self.residual:
            return out
        shortcut = x if self.downsample is None else self.downsample(pre if self._project_preact else x)
        return self._branch_out(out).add_(shortcut)


def zero_init_last(block: nn.Module) -> None:
    """Make a block's residual branch output zero at initialisation, so the block starts as its shortcut.

    Post-activation blocks zero the scale of their last norm (Goyal et al., 2017); pre-activation blocks,
    and blocks without norms, zero their last convolution.
    """
    if not isinstance(block, _ConvChain):
        raise TypeError(f"zero_init_last expects a residual block, not {type(block).__name__}.")
    last = block.depth
    norm = getattr(block, f"bn{last}")
    if isinstance(block, ResidualBlock) and isinstance(norm, nn.BatchNorm2d | nn.GroupNorm):
        nn.init.zeros_(norm.weight)
        return
    conv = getattr(block, f"conv{last}")
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
