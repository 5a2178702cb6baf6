"""Residual building blocks: basic, bottleneck, pre-activation, their plain twins, shortcuts, Inception.

Read :mod:`resnets.blocks.residual` for the two block shapes, :mod:`resnets.blocks.shortcuts` for the
paper's shortcut options A-D, and :mod:`resnets.blocks.bottleneck` for the course's ``IdentityBlock`` and
``ConvolutionalBlock``.
"""

from resnets.blocks.basic import BasicBlock, PlainBasicBlock, PlainPreActBasicBlock, PreActBasicBlock
from resnets.blocks.bottleneck import (
    COURSE_LAYERS,
    Bottleneck,
    ConvolutionalBlock,
    IdentityBlock,
    PlainBottleneck,
    PlainPreActBottleneck,
    PreActBottleneck,
)
from resnets.blocks.inception import Inception, InceptionAux
from resnets.blocks.layers import ConvNormAct, DropPath, LayerConfig
from resnets.blocks.residual import PreActBlock, ResidualBlock, zero_init_last
from resnets.blocks.shortcuts import SHORTCUT_OPTIONS, Subsample, ZeroPadShortcut, make_shortcut

__all__ = [
    "COURSE_LAYERS",
    "SHORTCUT_OPTIONS",
    "BasicBlock",
    "Bottleneck",
    "ConvNormAct",
    "ConvolutionalBlock",
    "DropPath",
    "IdentityBlock",
    "Inception",
    "InceptionAux",
    "LayerConfig",
    "PlainBasicBlock",
    "PlainBottleneck",
    "PlainPreActBasicBlock",
    "PlainPreActBottleneck",
    "PreActBasicBlock",
    "PreActBlock",
    "PreActBottleneck",
    "ResidualBlock",
    "Subsample",
    "ZeroPadShortcut",
    "make_shortcut",
    "zero_init_last",
]
