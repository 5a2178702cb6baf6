"""The matrix-multiply convolution equals oneDNN's, and Conv2d takes it only where it was measured faster."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import resnets
from resnets.blocks.gemm import conv2d_gemm, gemm_wins
from resnets.blocks.layers import Conv2d, set_gemm_convs

CASES = [
    # (batch, in, size, out, kernel, stride, padding, bias)
    (3, 5, 4, 7, 3, 1, 1, True),
    (2, 6, 5, 4, 3, 2, 1, False),
    (2, 4, 7, 6, 1, 2, 0, True),
    (2, 4, 3, 5, 1, 1, 0, False),
    (2, 3, 6, 4, (3, 1), (2, 1), (1, 0), True),
    (1, 4, 9, 3, 7, 2, 3, False),
]


def _grads(fn, x, w, b, stride, padding):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    y = fn(x, w, b, stride, padding)
    y.backward(torch.linspace(-1, 1, y.numel()).view_as(y))
    return [y, x.grad, w.grad] + ([] if b is None else [b.grad])


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_gemm_conv_matches_conv2d_forward_and_backward(case, channels_last):
    n, c, size, k, kernel, stride, padding, bias = case
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    stride = (stride, stride) if isinstance(stride, int) else stride
    padding = (padding, padding) if isinstance(padding, int) else padding
    g = torch.Generator().manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(n, c, size, size, generator=g, dtype=torch.float64).contiguous(memory_format=fmt)
    w = torch.randn(k, c, kh, kw, generator=g, dtype=torch.float64).contiguous(memory_format=fmt)
    b = torch.randn(k, generator=g, dtype=torch.float64) if bias else None
    expected = _grads(F.conv2d, x, w, b, stride, padding)
    got = _grads(conv2d_gemm, x, w, b, stride, padding)
    for e, o in zip(expected, got, strict=True):
        assert o.shape == e.shape
        torch.testing.assert_close(o, e, rtol=1e-10, atol=1e-10)


def test_gemm_conv_follows_cpu_autocast_like_conv2d():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 32, 2, 2, generator=g).contiguous(memory_format=torch.channels_last)
    w = torch.randn(16, 32, 3, 3, generator=g).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = _grads(F.conv2d, x, w, None, (1, 1), (1, 1))
        got = _grads(conv2d_gemm, x, w, None, (1, 1), (1, 1))
    assert got[0].dtype == expected[0].dtype == torch.bfloat16
    assert got[2].dtype == expected[2].dtype == torch.float32
    for e, o in zip(expected, got, strict=True):
        torch.testing.assert_close(o.detach().float(), e.detach().float(), rtol=0.02,
                                   atol=0.05 * float(e.detach().abs().max()))


def test_gemm_rule_takes_wide_small_maps_and_strided_projections_only():
    assert gemm_wins(512, (3, 3), (1, 1), out_pixels=4)
    assert gemm_wins(256, (3, 3), (1, 1), out_pixels=16)
    assert not gemm_wins(256, (3, 3), (1, 1), out_pixels=64)
    assert not gemm_wins(128, (3, 3), (1, 1), out_pixels=4)
    assert gemm_wins(1024, (1, 1), (2, 2), out_pixels=49)
    assert not gemm_wins(1024, (1, 1), (1, 1), out_pixels=49)
    assert not gemm_wins(64, (1, 1), (2, 2), out_pixels=16)


def _spy(monkeypatch) -> list:
    calls = []
    import resnets.blocks.layers as layers

    def spy(*args):
        calls.append(args[1].shape)
        return conv2d_gemm(*args)

    monkeypatch.setattr(layers, "conv2d_gemm", spy)
    return calls


def test_conv2d_takes_the_gemm_path_for_wide_small_maps_and_matches_nn_conv2d(monkeypatch):
    calls = _spy(monkeypatch)
    torch.manual_seed(0)
    conv = Conv2d(256, 8, 3, padding=1)
    plain = torch.nn.Conv2d(256, 8, 3, padding=1)
    plain.load_state_dict(conv.state_dict())
    x = torch.randn(2, 256, 4, 4)
    torch.testing.assert_close(conv(x), plain(x), rtol=1e-5, atol=1e-5)
    assert calls == [(8, 256, 3, 3)]
    conv(torch.randn(2, 256, 8, 8))
    assert len(calls) == 1, "64 output pixels of a 3x3 convolution stay on oneDNN"


def test_set_gemm_convs_switches_a_whole_model_off(monkeypatch):
    calls = _spy(monkeypatch)
    model = resnets.create_model("resnet50_course", num_classes=6).eval()
    x = torch.randn(8, 3, 64, 64)
    with torch.no_grad():
        on = model(x)
        assert calls, "the course model's last stages run as matrix multiplies"
        seen = len(calls)
        assert set_gemm_convs(model, False) == 53
        off = model(x)
    assert len(calls) == seen
    torch.testing.assert_close(on, off, rtol=1e-4, atol=1e-5)


def test_export_and_compile_see_the_ordinary_convolution(monkeypatch):
    calls = _spy(monkeypatch)
    conv = Conv2d(256, 4, 1, stride=2).eval()
    program = torch.export.export(conv, (torch.randn(1, 256, 4, 4),))
    assert not calls
    targets = {str(node.target) for node in program.graph.nodes}
    assert any("conv" in t for t in targets)


def test_gemm_conv_output_takes_an_inplace_relu():
    x = torch.randn(2, 256, 2, 2, requires_grad=True)
    conv = Conv2d(256, 4, 3, padding=1)
    y = torch.relu_(conv(x))
    y.sum().backward()
    assert x.grad is not None and y.is_contiguous(memory_format=torch.channels_last)


def test_fx_tracing_sees_the_ordinary_convolution():
    traced = torch.fx.symbolic_trace(Conv2d(256, 4, 3, padding=1))
    x = torch.randn(1, 256, 2, 2)
    assert any(node.target is F.conv2d or "conv" in str(node.target) for node in traced.graph.nodes)
    torch.testing.assert_close(traced(x), traced(x))


def test_a_forward_pass_over_a_few_images_stays_on_onednn():
    assert not gemm_wins(512, (3, 3), (1, 1), out_pixels=4, batch=1, backward=False)
    assert gemm_wins(512, (3, 3), (1, 1), out_pixels=4, batch=1, backward=True)
    assert gemm_wins(512, (3, 3), (1, 1), out_pixels=4, batch=32, backward=False)
