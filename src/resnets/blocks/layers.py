"""The small layers every block shares: convolutions, normalisation, activation and stochastic depth.

A :class:`LayerConfig` says once how a block's convolutions, norms and activations are made, so a
block's signature stays short and a Keras-exact layout (conv biases, BN eps 1e-3, momentum 0.01) is one
object instead of five keyword arguments threaded through every constructor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .gemm import conv2d_gemm, gemm_wins

NormKind = Literal["batch", "group", "none"]
ActKind = Literal["relu", "leaky_relu", "silu", "gelu", "tanh", "none"]

NORMS: tuple[str, ...] = ("batch", "group", "none")
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "none": nn.Identity,
}


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, names and state dict) that runs wide layers over small maps on the
    CPU as matrix multiplies, where that is faster (:mod:`resnets.blocks.gemm`).

    ``gemm = False`` on an instance (or :func:`set_gemm_convs`) keeps it on oneDNN's kernels.
    """

    gemm: bool = True

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if self.gemm and not _tracing() and input.device.type == "cpu" and input.dim() == 4 and self._gemm_shape(input):
            return conv2d_gemm(input, weight, bias, self.stride, self.padding)
        return super()._conv_forward(input, weight, bias)

    def _gemm_shape(self, input: torch.Tensor) -> bool:
        if self.groups != 1 or self.dilation != (1, 1) or self.padding_mode != "zeros" or isinstance(self.padding, str):
            return False
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        ho = (input.shape[2] + 2 * ph - kh) // sh + 1
        wo = (input.shape[3] + 2 * pw - kw) // sw + 1
        backward = torch.is_grad_enabled() and (input.requires_grad or self.weight.requires_grad)
        return gemm_wins(self.in_channels, self.kernel_size, self.stride, ho * wo, batch=input.shape[0],
                         backward=backward)


def _tracing() -> bool:
    return bool(torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling()
                or torch.onnx.is_in_onnx_export() or torch.fx._symbolic_trace.is_fx_symbolic_tracing())


def plain_convs(model: nn.Module) -> nn.Module:
    """Make every :class:`Conv2d` in ``model`` a ``torch.nn.Conv2d`` again, in place, for tools that match
    module types exactly (torch.fx's BatchNorm folding); returns ``model``."""
    for module in model.modules():
        if type(module) is Conv2d:
            module.__class__ = nn.Conv2d
            module.__dict__.pop("gemm", None)
    return model


def set_gemm_convs(model: nn.Module, enabled: bool) -> int:
    """Switch the matrix-multiply path of every :class:`Conv2d` in ``model``; returns how many there are."""
    convs = [m for m in model.modules() if isinstance(m, Conv2d)]
    for conv in convs:
        conv.gemm = enabled
    return len(convs)


@dataclass(frozen=True)
class LayerConfig:
    """How the convolutions, norms and activations of a block are made.

    Attributes:
        norm: ``batch`` (BatchNorm2d), ``group`` (GroupNorm) or ``none`` (no normalisation: the lab's
            "no BN" nets).
        act: the activation after each norm.
        conv_bias: give convolutions a bias, as Keras does by default (the course's model); wasted
            parameters before a BatchNorm, kept for weight-exact Keras layouts.
        bn_eps: BatchNorm epsilon (PyTorch 1e-5; Keras 1e-3; Keras applications 1.001e-5).
        bn_momentum: PyTorch convention, the weight of the new batch: Keras's momentum 0.99 is 0.01 here.
        gn_groups: GroupNorm groups (reduced to a divisor of the channel count).
    """

    norm: NormKind = "batch"
    act: ActKind = "relu"
    conv_bias: bool = False
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    gn_groups: int = 32

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, not {self.norm!r}.")
        if self.act not in ACTIVATIONS:
            raise ValueError(f"act must be one of {', '.join(ACTIVATIONS)}, not {self.act!r}.")

    def conv(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        *,
        groups: int = 1,
        padding: int | None = None,
        bias: bool | None = None,
    ) -> nn.Conv2d:
        """A convolution with "same" padding for odd kernels unless ``padding`` is given."""
        return Conv2d(
            in_ch,
            out_ch,
            kernel,
            stride=stride,
            padding=kernel // 2 if padding is None else padding,
            groups=groups,
            bias=self.conv_bias if bias is None else bias,
        )

    def norm_layer(self, channels: int) -> nn.Module:
        if self.norm == "batch":
            return nn.BatchNorm2d(channels, eps=self.bn_eps, momentum=self.bn_momentum)
        if self.norm == "group":
            return nn.GroupNorm(math.gcd(self.gn_groups, channels), channels, eps=self.bn_eps)
        return nn.Identity()

    def act_layer(self) -> nn.Module:
        if self.act == "relu":
            return nn.ReLU(inplace=True)
        return ACTIVATIONS[self.act]()


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016), per sample: in training, each sample's residual branch is
    dropped with probability ``p`` and the kept ones are scaled by ``1 / (1 - p)``, so evaluation needs
    no rescaling. Identity in eval mode or when ``p == 0``."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop-path probability must be in [0, 1), not {p}.")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ConvNormAct(nn.Sequential):
    """conv -> norm -> act, named ``conv``, ``bn``, ``act`` (torchvision's ``BasicConv2d`` names)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        *,
        layers: LayerConfig,
        padding: int | None = None,
    ) -> None:
        super().__init__()
        self.conv = layers.conv(in_ch, out_ch, kernel, stride, padding=padding)
        if layers.norm != "none":
            self.bn = layers.norm_layer(out_ch)
        self.act = layers.act_layer()


def stride_position(kernels: tuple[int, ...], stride_on: str) -> int:
    """Index of the convolution that carries a block's stride.

    ``"1x1"`` puts it on the first convolution when that one is 1x1 (the paper's v1, Keras, the course);
    ``"3x3"`` on the first spatial convolution (torchvision's "v1.5", ResNet45). A block whose first
    convolution is already spatial (the basic block) strides there either way.
    """
    if stride_on not in ("1x1", "3x3"):
        raise ValueError(f"stride_on must be '1x1' or '3x3', not {stride_on!r}.")
    if stride_on == "1x1" and kernels[0] == 1:
        return 0
    return next(i for i, k in enumerate(kernels) if k > 1)
