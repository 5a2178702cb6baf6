"""The 2-layer basic block (He et al., 2015, Figure 5 left): two 3x3 convolutions and a shortcut.

Used by ResNet-18/34 and the CIFAR nets. ``kernels=(1, 3)`` gives ResNet45's 1x1 -> 3x3 variant
(the ABINet / PaddleOCR backbone), which strides on its 3x3.
"""

from __future__ import annotations

from resnets.blocks.residual import PreActBlock, ResidualBlock


class BasicBlock(ResidualBlock):
    """``act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))`` with ``out_ch`` channels after each conv.

    Args:
        in_ch: input channels.
        out_ch: output channels (both convolutions).
        stride: the block's stride (on its first spatial conv); a shortcut option decides how the
            shortcut follows a change of shape (:mod:`resnets.blocks.shortcuts`).
        kernels: kernel sizes of the two convolutions.
        **kw: ``shortcut``, ``stride_on``, ``layers``, ``zero_init_last``, ``drop_path``, ``residual``
            (see :class:`~resnets.blocks.residual.ResidualBlock`).
    """

    expansion = 1

    def __init__(
        self, in_ch: int, out_ch: int, stride: int = 1, *, kernels: tuple[int, int] = (3, 3), **kw
    ) -> None:
        super().__init__(in_ch, (out_ch, out_ch), kernels, stride, **kw)


class PreActBasicBlock(PreActBlock):
    """The basic block in pre-activation order: ``conv2(act(bn2(conv1(act(bn1(x)))))) + shortcut``."""

    expansion = 1

    def __init__(
        self, in_ch: int, out_ch: int, stride: int = 1, *, kernels: tuple[int, int] = (3, 3), **kw
    ) -> None:
        super().__init__(in_ch, (out_ch, out_ch), kernels, stride, **kw)


class PlainBasicBlock(BasicBlock):
    """:class:`BasicBlock`'s plain twin: the same layers, no shortcut."""

    residual = False


class PlainPreActBasicBlock(PreActBasicBlock):
    """:class:`PreActBasicBlock`'s plain twin: the same layers, no shortcut."""

    residual = False
