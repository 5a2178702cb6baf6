"""The 3-layer bottleneck block (He et al., 2015, Figure 5 right): 1x1 -> fxf -> 1x1 with filters
F1, F2, F3, and the course's two names for it.

The course (deeplearning.ai, "Residual Networks") builds ResNet50 from two functions that are this block:

- ``identity_block(X, f, filters)``: the shortcut is the identity (input and output shapes equal);
- ``convolutional_block(X, f, filters, s=2)``: the shortcut is a 1x1 convolution with stride ``s`` and a
  BatchNorm; the stride sits on the first 1x1 of the main path.

:class:`IdentityBlock` and :class:`ConvolutionalBlock` take those arguments in that order and default to
the course's Keras layout (conv biases, BatchNorm eps 1e-3 and Keras momentum 0.99).
"""

from __future__ import annotations

from collections.abc import Sequence

from resnets.blocks.layers import LayerConfig
from resnets.blocks.residual import PreActBlock, ResidualBlock

COURSE_LAYERS = LayerConfig(conv_bias=True, bn_eps=1e-3, bn_momentum=0.01)
"""The course's Keras layers: ``Conv2D`` keeps its default bias, ``BatchNormalization`` its defaults."""


def _filters(filters: Sequence[int]) -> tuple[int, int, int]:
    if len(filters) != 3:
        raise ValueError(f"a bottleneck takes three filter counts (F1, F2, F3), not {list(filters)}.")
    return (int(filters[0]), int(filters[1]), int(filters[2]))


class Bottleneck(ResidualBlock):
    """``1x1 (F1) -> fxf (F2) -> 1x1 (F3)``, each conv followed by a norm, plus a shortcut.

    Args:
        in_ch: input channels.
        filters: ``(F1, F2, F3)``; F3 is the output width (4 x F1 in the paper's nets).
        f: kernel size of the middle convolution.
        stride: the block's stride, on the first 1x1 (``stride_on="1x1"``: the paper, Keras, the course)
            or on the fxf (``"3x3"``, torchvision's "v1.5", the default here).
        groups: groups of the middle convolution (ResNeXt).
        **kw: ``shortcut``, ``stride_on``, ``layers``, ``zero_init_last``, ``drop_path``, ``residual``.
    """

    expansion = 4

    def __init__(self, in_ch: int, filters: Sequence[int], f: int = 3, stride: int = 1, **kw) -> None:
        super().__init__(in_ch, _filters(filters), (1, f, 1), stride, **kw)


class PreActBottleneck(PreActBlock):
    """The bottleneck in pre-activation order (He et al., 2016): (norm, act, conv) x 3 + shortcut."""

    expansion = 4

    def __init__(self, in_ch: int, filters: Sequence[int], f: int = 3, stride: int = 1, **kw) -> None:
        super().__init__(in_ch, _filters(filters), (1, f, 1), stride, **kw)


class PlainBottleneck(Bottleneck):
    """:class:`Bottleneck`'s plain twin: the same layers, no shortcut."""

    residual = False


class PlainPreActBottleneck(PreActBottleneck):
    """:class:`PreActBottleneck`'s plain twin: the same layers, no shortcut."""

    residual = False


class IdentityBlock(Bottleneck):
    """The course's ``identity_block(X, f, filters)``: a bottleneck whose shortcut is the identity.

    The input must already have F3 channels, since nothing on the shortcut can change its shape.
    """

    def __init__(
        self, in_ch: int, f: int, filters: Sequence[int], *, layers: LayerConfig = COURSE_LAYERS, **kw
    ) -> None:
        f1, f2, f3 = _filters(filters)
        if in_ch != f3:
            raise ValueError(
                f"an identity block keeps its shape, so in_ch ({in_ch}) must equal F3 ({f3}); "
                "use ConvolutionalBlock to change the number of channels."
            )
        super().__init__(in_ch, (f1, f2, f3), f, 1, stride_on="1x1", layers=layers, **kw)


class ConvolutionalBlock(Bottleneck):
    """The course's ``convolutional_block(X, f, filters, s=2)``: a bottleneck whose shortcut is a
    1x1 convolution with stride ``s`` and a norm, the stride on the first 1x1 of the main path."""

    def __init__(
        self,
        in_ch: int,
        f: int,
        filters: Sequence[int],
        s: int = 2,
        *,
        layers: LayerConfig = COURSE_LAYERS,
        **kw,
    ) -> None:
        super().__init__(in_ch, filters, f, s, shortcut="C", stride_on="1x1", layers=layers, **kw)
