"""The Inception module of GoogLeNet (Szegedy et al., 2014, "Going Deeper with Convolutions", Figure 2b).

Four parallel paths, concatenated on channels: a 1x1 conv (c1); a 1x1 reduction then a 3x3 (c2);
a 1x1 reduction then a 5x5 (c3); a 3x3 max-pool then a 1x1 projection (c4). Layer names follow
torchvision (``branch1``..``branch4``, each conv a ``conv``/``bn`` pair) so its weights map.

The paper's third path is a 5x5; torchvision's implementation uses a 3x3 there (a known discrepancy that
its pretrained weights depend on), so the kernel is a parameter, ``branch3_kernel``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resnets.blocks.layers import ConvNormAct, LayerConfig


class Inception(nn.Module):
    """``Inception(in_ch, c1, (c2a, c2b), (c3a, c3b), c4)``; output channels ``c1 + c2b + c3b + c4``.

    Args:
        layers: ``LayerConfig(norm="none", conv_bias=True)`` for the paper's conv + ReLU, or BatchNorm
            convs without bias (torchvision, ``eps=1e-3``).
        branch3_kernel: 5 (the paper) or 3 (torchvision).
        pool_ceil: ``ceil_mode`` of the branch-4 max-pool (torchvision sets it; it changes nothing at
            stride 1).
    """

    def __init__(
        self,
        in_ch: int,
        c1: int,
        c2: Sequence[int],
        c3: Sequence[int],
        c4: int,
        *,
        layers: LayerConfig,
        branch3_kernel: int = 5,
        pool_ceil: bool = False,
    ) -> None:
        super().__init__()
        if branch3_kernel not in (3, 5):
            raise ValueError(f"branch3_kernel must be 3 or 5, not {branch3_kernel}.")
        self.branch1 = ConvNormAct(in_ch, c1, 1, layers=layers)
        self.branch2 = nn.Sequential(
            ConvNormAct(in_ch, c2[0], 1, layers=layers), ConvNormAct(c2[0], c2[1], 3, layers=layers)
        )
        self.branch3 = nn.Sequential(
            ConvNormAct(in_ch, c3[0], 1, layers=layers),
            ConvNormAct(c3[0], c3[1], branch3_kernel, layers=layers),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=pool_ceil), ConvNormAct(in_ch, c4, 1, layers=layers)
        )
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """GoogLeNet's auxiliary classifier (torchvision layout): 4x4 average pool, 1x1 conv to 128, FC 1024,
    dropout 0.7, FC to the classes. Only used in training; its loss is weighted 0.3 in the paper."""

    def __init__(self, in_ch: int, num_classes: int, *, layers: LayerConfig, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_ch, 128, 1, layers=layers)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(nn.functional.adaptive_avg_pool2d(x, (4, 4)))
        x = self.dropout(torch.relu(self.fc1(torch.flatten(x, 1))))
        return self.fc2(x)
