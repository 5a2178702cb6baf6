"""GoogLeNet (Inception v1; Szegedy et al., 2014), built from a :class:`~resnets.models.spec.GoogLeNetSpec`.

The paper's layout, as the d2l text writes it, is conv + ReLU with biases, no BatchNorm, no LRN, no
auxiliary heads, padded 3x3/2 max-pools. torchvision's differs in named fields: BatchNorm convs
(``batch_norm``), a 3x3 in the "5x5" branch (``branch3_kernel``), ``ceil_mode`` pools with a 2x2 pool
before group 5 (``pool_mode="ceil"``), optional auxiliary heads (``aux_logits``). Names follow
torchvision (``conv1..3``, ``inception3a..5b``, ``aux1/2``, ``fc``) so its weights load.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from resnets.blocks import ConvNormAct, Inception, InceptionAux
from resnets.models.network import Network, init_weights
from resnets.models.spec import GoogLeNetSpec


class GoogLeNetOutputs(NamedTuple):
    """What a GoogLeNet with auxiliary heads returns in training (torchvision's order)."""

    logits: torch.Tensor
    aux_logits2: torch.Tensor
    aux_logits1: torch.Tensor


class GoogLeNet(Network):
    """Inception v1 as a :class:`GoogLeNetSpec` describes it."""

    spec: GoogLeNetSpec

    def __init__(self, spec: GoogLeNetSpec) -> None:
        super().__init__(spec)
        cfg = spec.layer_config
        ceil = spec.pool_mode == "ceil"

        def pool(kernel: int = 3) -> nn.MaxPool2d:
            return nn.MaxPool2d(kernel, 2, ceil_mode=True) if ceil else nn.MaxPool2d(3, 2, padding=1)

        self.conv1 = ConvNormAct(spec.in_chans, 64, 7, 2, layers=cfg, padding=3)
        self.maxpool1 = pool()
        self.conv2 = ConvNormAct(64, 64, 1, layers=cfg)
        self.conv3 = ConvNormAct(64, 192, 3, layers=cfg)
        self.maxpool2 = pool()
        self._groups: list[list[str]] = []
        in_ch = 192
        for number, group in zip((3, 4, 5), spec.stages, strict=True):
            names = []
            for letter, m in zip("abcdefghij", group, strict=False):
                name = f"inception{number}{letter}"
                setattr(self, name, Inception(in_ch, m.c1, m.c2, m.c3, m.c4, layers=cfg,
                                              branch3_kernel=spec.branch3_kernel, pool_ceil=ceil))
                names.append(name)
                in_ch = m.out_channels
            self._groups.append(names)
            if number == 3:
                self.maxpool3 = pool()
            elif number == 4:
                self.maxpool4 = pool(2)
        if spec.aux_logits:
            group4 = spec.stages[1]
            self.aux1 = InceptionAux(group4[0].out_channels, spec.head.classes, layers=cfg)
            self.aux2 = InceptionAux(group4[3].out_channels, spec.head.classes, layers=cfg)
        init_weights(self, spec.init)
        self._finish()

    def feature_stages(self) -> list[list[str]]:
        g3, g4, g5 = self._groups
        return [["conv1"], ["maxpool1", "conv2", "conv3"], ["maxpool2", *g3], ["maxpool3", *g4],
                ["maxpool4", *g5]]

    def forward(self, x: torch.Tensor):
        if not (self.training and hasattr(self, "aux1")) or self.features_only:
            return super().forward(x)
        aux: dict[str, torch.Tensor] = {}
        for names in self._stage_modules:
            for name in names:
                x = getattr(self, name)(x)
                if name == "inception4a":
                    aux["aux1"] = self.aux1(x)
                elif name == "inception4d":
                    aux["aux2"] = self.aux2(x)
        return GoogLeNetOutputs(self.forward_head(x), aux["aux2"], aux["aux1"])

    def reset_classifier(self, num_classes: int, pool: str | None = None) -> None:
        super().reset_classifier(num_classes, pool)
        if hasattr(self, "aux1"):
            for aux in (self.aux1, self.aux2):
                aux.fc2 = nn.Linear(1024, num_classes).to(aux.fc1.weight.device) if num_classes else nn.Identity()
