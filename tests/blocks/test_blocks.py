"""The blocks: shapes, shortcut options, plain twins, zero-init identity, stochastic depth, course aliases."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch import nn

from resnets.blocks import (
    BasicBlock,
    Bottleneck,
    ConvolutionalBlock,
    DropPath,
    IdentityBlock,
    LayerConfig,
    PlainBasicBlock,
    PlainBottleneck,
    PreActBasicBlock,
    PreActBottleneck,
    Subsample,
    ZeroPadShortcut,
    make_shortcut,
)


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("option", ["A", "B", "C", "D"])
def test_every_shortcut_option_gives_the_right_shape(option: str) -> None:
    block = BasicBlock(16, 32, stride=2, shortcut=option)
    assert block(torch.randn(2, 16, 8, 8)).shape == (2, 32, 4, 4)


def test_option_a_has_no_parameters_and_zero_pads_channels_evenly() -> None:
    shortcut = ZeroPadShortcut(16, 32, 2)
    x = torch.randn(1, 16, 8, 8)
    y = shortcut(x)
    assert n_params(shortcut) == 0
    assert y.shape == (1, 32, 4, 4)
    assert torch.equal(y[:, 8:24], x[:, :, ::2, ::2])
    assert y[:, :8].abs().sum() == 0 and y[:, 24:].abs().sum() == 0
    a = BasicBlock(16, 32, stride=2, shortcut="A")
    plain = PlainBasicBlock(16, 32, stride=2)
    assert n_params(a) == n_params(plain)


def test_option_b_projects_only_where_the_shape_changes_and_c_always() -> None:
    assert make_shortcut("B", 64, 64, 1, layers=LayerConfig()) is None
    assert isinstance(make_shortcut("B", 64, 128, 2, layers=LayerConfig()), nn.Sequential)
    assert isinstance(make_shortcut("C", 64, 64, 1, layers=LayerConfig()), nn.Sequential)
    d = make_shortcut("D", 64, 128, 2, layers=LayerConfig())
    assert isinstance(d[0], nn.AvgPool2d) and d[1].stride == (1, 1)
    assert isinstance(make_shortcut("B", 64, 64, 2, layers=LayerConfig(), stride_only="subsample"), Subsample)


def test_shortcuts_and_blocks_pickle_and_export() -> None:
    block = BasicBlock(16, 32, stride=2, shortcut="A").eval()
    clone = pickle.loads(pickle.dumps(block))
    x = torch.randn(1, 16, 8, 8)
    assert torch.equal(clone(x), block(x))
    program = torch.export.export(block, (x,))
    assert torch.allclose(program.module()(x), block(x))


@pytest.mark.parametrize(
    "block",
    [
        BasicBlock(8, 8, zero_init_last=True),
        Bottleneck(32, (8, 8, 32), zero_init_last=True),
        PreActBasicBlock(8, 8, zero_init_last=True),
        PreActBottleneck(32, (8, 8, 32), zero_init_last=True),
    ],
    ids=["basic", "bottleneck", "preact-basic", "preact-bottleneck"],
)
def test_zero_init_block_maps_nonnegative_input_to_itself(block: nn.Module) -> None:
    block.train()
    x = torch.rand(4, block.in_channels, 6, 6)
    assert torch.allclose(block(x), x)


def test_plain_twin_has_the_same_convolutions_and_no_shortcut() -> None:
    res, plain = Bottleneck(64, (32, 32, 128), stride=2), PlainBottleneck(64, (32, 32, 128), stride=2)
    convs = lambda m: [(n, p.shape) for n, p in m.named_parameters() if "downsample" not in n]  # noqa: E731
    assert convs(res) == convs(plain)
    assert plain.downsample is None and not plain.residual
    assert res.downsample is not None
    assert plain(torch.randn(1, 64, 8, 8)).shape == (1, 128, 4, 4)


def test_stride_on_picks_the_1x1_or_the_3x3() -> None:
    v1 = Bottleneck(64, (64, 64, 256), stride=2, stride_on="1x1")
    v15 = Bottleneck(64, (64, 64, 256), stride=2, stride_on="3x3")
    assert (v1.conv1.stride, v1.conv2.stride) == ((2, 2), (1, 1))
    assert (v15.conv1.stride, v15.conv2.stride) == ((1, 1), (2, 2))
    ocr = BasicBlock(32, 32, stride=2, kernels=(1, 3), stride_on="3x3")
    assert ocr.conv1.kernel_size == (1, 1) and ocr.conv2.stride == (2, 2)


def test_preact_projection_reads_the_preactivated_input() -> None:
    block = PreActBottleneck(16, (8, 8, 32), stride=2).eval()
    x = torch.randn(1, 16, 8, 8)
    pre = block.act1(block.bn1(x))
    branch = block.conv3(block.act3(block.bn3(block.conv2(block.act2(block.bn2(block.conv1(pre)))))))
    assert torch.allclose(block(x), branch + block.downsample(pre), atol=1e-6)


def test_drop_path_drops_whole_samples_in_training_only() -> None:
    drop = DropPath(0.5).train()
    y = drop(torch.ones(2000, 3, 2, 2))
    per_sample = y.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert ((per_sample == 0).all(1) | (per_sample == 2).all(1)).all()
    assert 0.4 < (per_sample[:, 0] == 0).float().mean() < 0.6
    assert torch.equal(drop.eval()(torch.ones(3, 3)), torch.ones(3, 3))


def test_course_identity_and_convolutional_blocks_match_the_course() -> None:
    x = torch.randn(3, 256, 4, 4)
    ib = IdentityBlock(256, 3, [64, 64, 256])
    assert ib(x).shape == x.shape
    # Keras: each conv has kernel + bias, each BN 2 trainable (gamma, beta).
    assert n_params(ib) == (256 * 64 + 64) + (9 * 64 * 64 + 64) + (64 * 256 + 256) + 2 * (64 + 64 + 256)
    cb = ConvolutionalBlock(256, 3, [128, 128, 512], s=2)
    assert cb(x).shape == (3, 512, 2, 2)
    assert cb.conv1.stride == (2, 2) and cb.downsample[0].stride == (2, 2)
    assert cb.bn1.eps == 1e-3 and cb.bn1.momentum == 0.01 and cb.conv1.bias is not None
    assert ConvolutionalBlock(64, 3, [64, 64, 256], s=1).downsample is not None


def test_identity_block_refuses_a_shape_change() -> None:
    with pytest.raises(ValueError, match="must equal F3"):
        IdentityBlock(64, 3, [64, 64, 256])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BasicBlock(32, 16, stride=2, shortcut="A"), "option A cannot reduce"),
        (lambda: BasicBlock(16, 16, shortcut="E"), "shortcut option must be"),
        (lambda: Bottleneck(16, (8, 8)), "three filter counts"),
        (lambda: BasicBlock(16, 16, stride_on="5x5"), "stride_on must be"),
        (lambda: LayerConfig(norm="layer"), "norm must be one of"),
        (lambda: DropPath(1.0), "drop-path probability"),
    ],
)
def test_bad_block_arguments_raise_one_clear_sentence(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_group_norm_and_no_norm_options() -> None:
    gn = BasicBlock(16, 16, layers=LayerConfig(norm="group", gn_groups=4))
    assert isinstance(gn.bn1, nn.GroupNorm) and gn.bn1.num_groups == 4
    bare = BasicBlock(16, 16, layers=LayerConfig(norm="none"), zero_init_last=True)
    assert isinstance(bare.bn1, nn.Identity)
    x = torch.rand(1, 16, 4, 4)
    assert torch.allclose(bare(x), x)
