"""Invalid specs and options raise ``ValueError`` with one sentence saying what to fix."""

from __future__ import annotations

import pytest

from resnets import ResnetsError, create_model
from resnets.models import ResNetSpec, StageSpec, get_spec, spec_from_dict, spec_to_dict
from resnets.models.spec import SCHEMA_VERSION


def stage(**kw) -> StageSpec:
    return StageSpec(**{"block": "basic", "depth": 2, "width": 16, "stride": 1, **kw})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: stage(depth=0), "depth must be a positive integer"),
        (lambda: stage(block="triple"), "block must be one of"),
        (lambda: ResNetSpec("x", ()), "at least one stage"),
        (lambda: ResNetSpec("x", (stage(),), shortcut="E"), "shortcut must be one of"),
        (lambda: ResNetSpec("x", (stage(),), input_size=(3, 32)), "input_size must be three"),
        (lambda: ResNetSpec("x", (stage(width=128), stage(width=16)), shortcut="A"), "option A can only add"),
        (lambda: ResNetSpec("x", (stage(),), groups=4), "needs bottleneck stages"),
        (lambda: ResNetSpec("x", (stage(),), bn_momentum=0.99 + 1), "bn_momentum must be in"),
        (lambda: get_spec("resnet20", shortcutt="B"), "did you mean shortcut"),
        (lambda: create_model("resnet50", input_size=(3, 8, 8), global_pool="avg2x2"), "2x2 average pool"),
    ],
)
def test_bad_specs_raise_one_sentence(make, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_spec_from_dict_names_the_first_bad_field() -> None:
    data = spec_to_dict(get_spec("resnet20"))
    data["stages"][1]["stride"] = "two"
    with pytest.raises(ValueError, match=r"spec\.stages\[1\]\.stride must be int"):
        spec_from_dict(data)
    data = spec_to_dict(get_spec("resnet20"))
    data["stemm"] = {}
    with pytest.raises(ValueError, match="unknown field 'stemm' \\(did you mean 'stem'\\?\\)"):
        spec_from_dict(data)


def test_a_spec_from_a_newer_schema_is_refused() -> None:
    data = spec_to_dict(get_spec("resnet20")) | {"schema_version": SCHEMA_VERSION + 1}
    with pytest.raises(ValueError, match="upgrade resnets"):
        spec_from_dict(data)


def test_unknown_model_names_suggest_the_closest() -> None:
    with pytest.raises(ResnetsError, match="closest: resnet56, resnet50"):
        create_model("resnet5")


def test_hand_written_specs_accept_lists() -> None:
    spec = ResNetSpec("tiny", [stage(), stage(width=32, stride=2)], input_size=[3, 16, 16])
    assert spec.stages[1].stride == 2 and spec.input_size == (3, 16, 16)
