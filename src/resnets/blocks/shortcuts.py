"""Shortcut connections, the paper's options A-C plus ResNet-D, as picklable, exportable modules.

He et al. (2015), section 3.3 and Table 3:

- **A**: identity, with zero-padded channels and a strided subsample where the shape changes; no parameters
  (the paper's CIFAR nets).
- **B**: identity, with a 1x1 projection where the shape changes (torchvision, Keras, the course).
- **C**: a 1x1 projection on every block.
- **D**: like B, but a 2x2 average pool does the subsampling before a stride-1 projection, so no
  activation is skipped by a strided 1x1 (He et al., 2019, "Bag of Tricks", ResNet-D).

A shortcut where only the spatial size changes (Keras's ResNetV2 strides the *last* block of a stage) can
be a plain :class:`Subsample` instead of a projection: that is ``stride_only="subsample"``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from resnets.blocks.layers import LayerConfig

ShortcutOption = Literal["A", "B", "C", "D"]
SHORTCUT_OPTIONS: tuple[str, ...] = ("A", "B", "C", "D")


class Subsample(nn.Module):
    """Keep every ``stride``-th pixel: Keras's ``MaxPooling2D(1, strides=s)`` and option A's subsample."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


class ZeroPadShortcut(Subsample):
    """Option A: subsample, then zero-pad the new channels, half before and half after the old ones
    (as the widely used CIFAR reference implementation does, so its weights map without change)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__(stride)
        if out_ch < in_ch:
            raise ValueError(
                f"option A cannot reduce channels ({in_ch} -> {out_ch}); use shortcut option 'B'."
            )
        self.before = (out_ch - in_ch) // 2
        self.after = out_ch - in_ch - self.before

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        if self.before or self.after:
            x = F.pad(x, (0, 0, 0, 0, self.before, self.after))
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad_channels=({self.before}, {self.after})"


def make_shortcut(
    option: str,
    in_ch: int,
    out_ch: int,
    stride: int,
    *,
    layers: LayerConfig,
    normalize: bool = True,
    stride_only: Literal["projection", "subsample"] = "projection",
) -> nn.Module | None:
    """The shortcut a block needs, or ``None`` for a bare identity.

    Args:
        option: ``A``, ``B``, ``C`` or ``D`` (module docstring).
        normalize: follow a projection with a norm (post-activation blocks); pre-activation blocks
            project the already-normalised input and add no norm.
        stride_only: what to do where only the spatial size changes: project (torchvision, ResNet45) or
            subsample (Keras ResNetV2).
    """
    if option not in SHORTCUT_OPTIONS:
        raise ValueError(f"shortcut option must be one of A, B, C, D, not {option!r}.")
    shape_changes = stride != 1 or in_ch != out_ch
    if not shape_changes and option != "C":
        return None
    if option == "A":
        return ZeroPadShortcut(in_ch, out_ch, stride)
    if option == "B" and in_ch == out_ch and stride_only == "subsample":
        return Subsample(stride)
    modules: list[nn.Module] = []
    if option == "D" and stride > 1:
        modules.append(nn.AvgPool2d(stride, stride, ceil_mode=True, count_include_pad=False))
        stride = 1
    elif option == "D":
        modules.append(nn.Identity())
    modules.append(layers.conv(in_ch, out_ch, 1, stride))
    if normalize and layers.norm != "none":
        modules.append(layers.norm_layer(out_ch))
    return nn.Sequential(*modules)
