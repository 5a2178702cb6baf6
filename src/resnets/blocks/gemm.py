"""Convolutions over small feature maps as one matrix multiply (im2col), for the CPU.

oneDNN, which runs every PyTorch convolution on the CPU, is slow on the last stages of a network fed small
images: wide channels over 2x2 or 4x4 maps. On 2 cores of an AMX Xeon (torch 2.13, bf16 autocast, batch 32)
the course ResNet50's 3x3 convolution over 512 channels at 2x2 takes 22 ms forward and backward, of which
12 ms are the weight gradient: about 50 GFLOP/s, where a bf16 matrix multiply of the same size reaches
700-1,100. Written as ``im2col(x) @ W^T``, with the weight gradient ``dY^T @ im2col(x)`` and the input
gradient ``dY @ W`` folded back, the same layer takes 6 ms; strided 1x1 convolutions gain 1.2-7x
(``benchmarks/gemm_layers.py``).

It is the same convolution (products summed in another order): fp32 results agree with oneDNN's to about
1e-6 relative, bf16 ones to bf16 rounding. :func:`gemm_wins` says where it is faster: the layers
measured here (``docs/benchmarks.md``), not a guess. Nothing here runs on a GPU, under ``torch.compile``, in
tracing or in export: those see the ordinary convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

MIN_CHANNELS = 256
MAX_PIXELS = 16
MAX_PIXELS_STRIDED_1X1 = 64
MIN_BATCH_FORWARD = 8


def gemm_wins(
    in_channels: int,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    out_pixels: int,
    *,
    batch: int = 32,
    backward: bool = True,
) -> bool:
    """Whether the matrix-multiply form beat oneDNN for this layer on the CPUs measured
    (``benchmarks/gemm_layers.py``).

    Wide layers only (at least 256 input channels): over 64 or 128 channels oneDNN was faster at every map
    size tried. Up to 16 output pixels for any kernel; up to 64 for strided 1x1 convolutions (the projection
    shortcuts), whose oneDNN backward was the slowest measured. A forward pass alone (no gradient) over fewer
    than 8 images stays on oneDNN: at batch 1 in fp32 it was faster on most of these layers.
    """
    if in_channels < MIN_CHANNELS or (not backward and batch < MIN_BATCH_FORWARD):
        return False
    if kernel == (1, 1) and stride != (1, 1):
        return out_pixels <= MAX_PIXELS_STRIDED_1X1
    return out_pixels <= MAX_PIXELS


class _MatmulConv2d(torch.autograd.Function):
    """A zero-padded, undilated, ungrouped convolution through im2col and matrix multiplies.

    Works in NHWC order throughout, so channels-last input, weights and gradients are read without copies
    and the output is channels-last.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        n, c, h, w = x.shape
        k, _, kh, kw = weight.shape
        (sh, sw), (ph, pw) = stride, padding
        ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
        xh = x.permute(0, 2, 3, 1)
        if ph or pw:
            xh = F.pad(xh, (0, 0, pw, pw, ph, ph))
        if kh == kw == 1:
            cols = xh[:, : sh * (ho - 1) + 1 : sh, : sw * (wo - 1) + 1 : sw, :].reshape(n * ho * wo, c)
        else:
            windows = xh.unfold(1, kh, sh).unfold(2, kw, sw)
            cols = windows.permute(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, kh * kw * c)
        wm = weight.permute(0, 2, 3, 1).reshape(k, kh * kw * c)
        # A fresh tensor, not a view of the product: the next layer may be an in-place ReLU.
        y = torch.empty((n, k, ho, wo), dtype=cols.dtype, device=cols.device, memory_format=torch.channels_last)
        rows = y.permute(0, 2, 3, 1).view(n * ho * wo, k)
        if bias is None:
            torch.mm(cols, wm.t(), out=rows)
        else:
            torch.addmm(bias, cols, wm.t(), out=rows)
        ctx.save_for_backward(cols, wm)
        ctx.geometry = (n, c, h, w, k, kh, kw, sh, sw, ph, pw, ho, wo)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        cols, wm = ctx.saved_tensors
        n, c, h, w, k, kh, kw, sh, sw, ph, pw, ho, wo = ctx.geometry
        g = grad.permute(0, 2, 3, 1).reshape(n * ho * wo, k)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[1]:
            grad_w = (g.t() @ cols).view(k, kh, kw, c).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[2]:
            grad_b = g.sum(0)
        if ctx.needs_input_grad[0]:
            grad_cols = (g @ wm).view(n, ho, wo, kh, kw, c)
            if kh == kw == 1 and (sh, sw, ph, pw) == (1, 1, 0, 0):
                grad_xh = grad_cols.view(n, h, w, c)
            else:
                padded = grad_cols.new_zeros(n, h + 2 * ph, w + 2 * pw, c)
                for i in range(kh):
                    for j in range(kw):
                        padded[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :] += (
                            grad_cols[:, :, :, i, j, :]
                        )
                grad_xh = padded[:, ph : ph + h, pw : pw + w, :]
            grad_x = grad_xh.permute(0, 3, 1, 2)
        return grad_x, grad_w, grad_b, None, None


def conv2d_gemm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride, padding)`` as matrix multiplies, honouring CPU autocast."""
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        x, weight = x.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast("cpu", enabled=False):
        return _MatmulConv2d.apply(x, weight, bias, stride, padding)
