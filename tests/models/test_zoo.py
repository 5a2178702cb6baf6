"""Every zoo model: exact parameter counts, shapes, backward, spec round trips, backbones, strides."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import resnets
from resnets.blocks.layers import stride_position
from resnets.models import (
    GoogLeNetSpec,
    ResNetSpec,
    count_parameters,
    create_model,
    get_spec,
    list_models,
    spec_from_dict,
    spec_from_json,
    spec_from_yaml,
    spec_to_dict,
    spec_to_json,
    spec_to_yaml,
)

# Trainable parameters. Reference figures (torchvision, timm, the paper's CIFAR nets, Keras, PaddleOCR,
# d2l) where they exist; the rest are ours, stated in the README's zoo table.
EXPECTED_PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnet200": 64_673_832,
    "resnet50_v1": 25_557_032,
    "resnet50d": 25_557_032,
    "wide_resnet50_2": 68_883_240,
    "resnext50_32x4d": 25_028_904,
    "plain18": 11_515_688,
    "plain34": 21_623_848,
    "resnet20": 269_722,
    "resnet32": 464_154,
    "resnet44": 658_586,
    "resnet56": 853_018,
    "resnet110": 1_727_962,
    "resnet1202": 19_421_274,
    "plain20": 269_722,
    "plain32": 464_154,
    "plain44": 658_586,
    "plain56": 853_018,
    "plain110": 1_727_962,
    "preact_resnet110": 1_730_522,
    "preact_resnet164": 1_703_258,
    "resnet18_cifar": 11_173_962,
    "resnet50_course": 23_546_886,
    "resnet45": 12_994_784,
    "resnet50_keras": 25_583_592,
    "resnet101_keras": 44_601_832,
    "resnet152_keras": 60_268_520,
    "resnet50v2_keras": 25_568_360,
    "resnet101v2_keras": 44_577_896,
    "resnet152v2_keras": 60_236_904,
    "googlenet": 6_998_552,
    "googlenet_bn": 6_624_904,
}

ZOO = list_models()
HEAVY = {"resnet1202"}  # shape-checked on meta only


def meta_model(name: str, **kw) -> nn.Module:
    with torch.device("meta"):
        return create_model(name, **kw)


def tiny_input(name: str) -> tuple[int, int, int]:
    """The smallest convenient input a model takes: its default unless that is ImageNet's 224."""
    spec = get_spec(name)
    c, h, w = spec.input_size
    flat_head = spec.head.pool in ("avg2x2", "none") and spec.head.classes
    return (c, h, w) if h <= 64 or flat_head else (c, 64, 64)


def test_every_zoo_model_has_a_pinned_parameter_count() -> None:
    assert set(ZOO) == set(EXPECTED_PARAMS)


@pytest.mark.parametrize("name", ZOO)
def test_parameter_count_is_exact(name: str) -> None:
    assert count_parameters(meta_model(name)) == EXPECTED_PARAMS[name]


def test_keras_counting_of_the_course_model_includes_bn_statistics() -> None:
    model = meta_model("resnet50_course")
    stats = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))
    assert count_parameters(model) + stats == 23_600_006


@pytest.mark.parametrize("name", [n for n in ZOO if n not in HEAVY])
def test_forward_shape_and_backward(name: str) -> None:
    spec = get_spec(name)
    size = tiny_input(name)
    model = create_model(name, input_size=size)
    x = torch.randn(2, *size)
    y = model(x)
    if spec.head.classes:
        assert y.shape == (2, spec.head.classes)
    else:
        assert y.shape[:2] == (2, spec.num_features)
    y.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_heavy_models_shape_on_meta() -> None:
    for name in HEAVY:
        model = meta_model(name)
        assert model(torch.empty(2, *get_spec(name).input_size, device="meta")).shape == (2, 10)


@pytest.mark.parametrize("name", ZOO)
def test_spec_round_trips_through_dict_json_and_yaml(name: str) -> None:
    spec = get_spec(name)
    assert spec_from_dict(spec_to_dict(spec)) == spec
    assert spec_from_json(spec_to_json(spec)) == spec
    assert spec_from_yaml(spec_to_yaml(spec)) == spec


@pytest.mark.parametrize("name", ZOO)
def test_backbone_returns_every_feature_stage(name: str) -> None:
    size = get_spec(name).input_size
    model = meta_model(name, features_only=True)
    feats = model(torch.empty(1, *size, device="meta"))
    assert len(feats) == len(model.feature_info) >= 4
    for f, info in zip(feats, model.feature_info, strict=True):
        assert f.shape[1] == info.num_chs
        assert round(size[1] / f.shape[2]) == info.reduction
    assert count_parameters(model) < EXPECTED_PARAMS[name] or get_spec(name).head.classes == 0


def test_backbone_out_indices_and_feature_info_match_timm() -> None:
    model = create_model("resnet50", features_only=True, out_indices=(1, 4))
    info = [(f.num_chs, f.reduction, f.module) for f in model.feature_info]
    assert info == [(64, 2, "act1"), (256, 4, "layer1"), (512, 8, "layer2"), (1024, 16, "layer3"),
                    (2048, 32, "layer4")]
    a, b = model(torch.randn(1, 3, 64, 64))
    assert a.shape == (1, 256, 16, 16) and b.shape == (1, 2048, 2, 2)


def strided_convs(model: nn.Module) -> list[str]:
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.stride[0] > 1
            and "downsample" not in n]


@pytest.mark.parametrize("name", [n for n in ZOO if isinstance(get_spec(n), ResNetSpec)])
def test_probe_shows_where_each_model_strides(name: str) -> None:
    """The strided convolutions are exactly where the spec says: the first (or last) block of each
    strided stage, on the 1x1 or the 3x3."""
    spec = get_spec(name)
    expected = ["conv1"] if spec.stem.stride > 1 else []
    kernels = {"basic": (3, 3), "basic_1x1": (1, 3), "bottleneck": (1, spec.bottleneck_kernel, 1)}
    for i, stage in enumerate(spec.stages, 1):
        if stage.stride > 1:
            j = 0 if spec.stride_block == "first" else stage.depth - 1
            k = stride_position(kernels[stage.block], spec.stride_on) + 1
            expected.append(f"layer{i}.{j}.conv{k}")
    assert strided_convs(meta_model(name)) == expected


def test_v1_and_v15_differ_only_in_stride_placement() -> None:
    assert "layer2.0.conv1" in strided_convs(meta_model("resnet50_v1"))
    assert "layer2.0.conv2" in strided_convs(meta_model("resnet50"))
    assert "layer2.0.conv1" in strided_convs(meta_model("resnet50_course"))


def test_torchvision_state_dict_names() -> None:
    keys = list(meta_model("resnet50").state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    for key in ("layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var",
                "layer4.2.bn3.bias", "fc.weight", "fc.bias"):
        assert key in keys
    assert len(keys) == 320  # torchvision resnet50's state dict has 320 entries


def test_plain_twins_have_no_shortcut_and_the_same_conv_layers() -> None:
    for res, plain in (("resnet20", "plain20"), ("resnet56", "plain56"), ("resnet18", "plain18")):
        r, p = meta_model(res), meta_model(plain)
        main = lambda m: [(n, tuple(t.shape)) for n, t in m.named_parameters() if "downsample" not in n]  # noqa: E731
        assert main(r) == main(p)
        assert not any("downsample" in n for n, _ in p.named_modules())
        assert all(not b.residual for b in p.blocks())


def test_option_a_adds_zero_parameters_and_option_b_adds_projections() -> None:
    a = count_parameters(meta_model("resnet20"))
    assert a == count_parameters(meta_model("plain20"))
    b = count_parameters(meta_model("resnet20", shortcut="B"))
    assert b == 272_474  # the paper's option B figure for ResNet-20


def test_zero_init_residual_net_starts_as_identity_blocks() -> None:
    model = create_model("resnet56", zero_init_last=True).train()
    x = torch.rand(2, 16, 8, 8)
    for block in model.layer1:
        assert torch.allclose(block(x), x)


def test_drop_path_rate_grows_linearly_over_blocks() -> None:
    model = create_model("resnet20", drop_path_rate=0.2)
    rates = [getattr(b, "drop_path", None) for b in model.blocks()]
    probs = [0.0 if r is None else r.p for r in rates]
    assert probs[0] == 0.0 and probs[-1] == pytest.approx(0.2)
    assert probs == sorted(probs)


def test_torch_export_of_a_cifar_net_matches_eager() -> None:
    model = create_model("resnet20").eval()
    x = torch.randn(2, 3, 32, 32)
    batch = torch.export.Dim("batch", min=1, max=64)
    program = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    assert torch.allclose(program.module()(x), model(x), atol=1e-6)
    assert program.module()(torch.randn(5, 3, 32, 32)).shape == (5, 10)


def test_reset_classifier_and_head_overrides() -> None:
    model = create_model("resnet18", num_classes=7, global_pool="max", head_activation="softmax")
    y = model(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 7) and torch.allclose(y.sum(1), torch.ones(2))
    model.reset_classifier(3)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    model.reset_classifier(0)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 512)
    tanh = create_model("resnet18_cifar", num_classes=41, head_activation="tanh")
    assert count_parameters(tanh) == 11_189_865


def test_googlenet_aux_heads_in_training_only() -> None:
    model = create_model("googlenet_bn", aux_logits=True, num_classes=5)
    out = model.train()(torch.randn(2, 3, 96, 96))
    assert [o.shape for o in out] == [(2, 5)] * 3
    assert model.eval()(torch.randn(2, 3, 96, 96)).shape == (2, 5)
    assert count_parameters(meta_model("googlenet_bn", aux_logits=True)) == 13_004_888


def test_resnet45_maps_a_text_line_to_a_512x8x32_map() -> None:
    assert meta_model("resnet45")(torch.empty(1, 3, 32, 128, device="meta")).shape == (1, 512, 8, 32)


def test_a_new_depth_is_one_line() -> None:
    from resnets.models.zoo import imagenet

    spec = imagenet("resnet26", "bottleneck", (2, 2, 2, 2))
    with torch.device("meta"):
        assert count_parameters(resnets.build_model(spec)) > 0


def test_googlenet_spec_round_trips_nested_tuples() -> None:
    spec = get_spec("googlenet")
    assert isinstance(spec, GoogLeNetSpec)
    assert spec_from_json(spec_to_json(spec)).stages[1][4].c3 == (32, 128)
