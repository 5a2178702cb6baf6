"""Residual building blocks: basic, bottleneck, pre-activation, their plain twins, shortcuts, Inception.

Read :mod:`resnets.blocks.residual` for the two block shapes, :mod:`resnets.blocks.shortcuts` for the
paper's shortcut options A-D, and :mod:`resnets.blocks.bottleneck` for the course's ``IdentityBlock`` and
``ConvolutionalBlock``. Their convolutions are :class:`Conv2d`, which runs wide layers over small maps on
the CPU as matrix multiplies (:mod:`resnets.blocks.gemm`).
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
from resnets.blocks.layers import Conv2d, ConvNormAct, DropPath, LayerConfig, plain_convs, set_gemm_convs
from resnets.blocks.residual import PreActBlock, ResidualBlock, zero_init_last
from resnets.blocks.shortcuts import SHORTCUT_OPTIONS, Subsample, ZeroPadShortcut, make_shortcut

__all__ = [
    "COURSE_LAYERS",
    "SHORTCUT_OPTIONS",
    "BasicBlock",
    "Bottleneck",
    "Conv2d",
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
    "plain_convs",
    "set_gemm_convs",
    "zero_init_last",
]
