"""torchvision / timm weights in: ``.pth`` (``weights_only`` only), safetensors, resnets checkpoints; strict
loading with one-line mismatches; files that would run code, or are cut short, are refused.

Our ResNet state dict IS torchvision's (and timm's) layout, so a state dict of ours stands in for theirs
here; ``benchmarks/parity_torchvision_timm.py`` loads the real torchvision and timm models outside CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import safetensors.torch
import torch

import resnets
from resnets.interop import detect_format, load_weights_file
from resnets.models import create_model as bare_model
from resnets.training import save_checkpoint

TORCHVISION_RESNET50_KEYS = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.running_var": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.0.downsample.1.num_batches_tracked": (),
    "layer2.0.conv2.weight": (128, 128, 3, 3),
    "layer4.2.bn3.bias": (2048,),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}
"""A sample of torchvision's ``resnet50().state_dict()`` (320 entries, /work/peers/resnet50_keys.txt)."""


@pytest.fixture(scope="module")
def resnet18() -> torch.nn.Module:
    return bare_model("resnet18", num_classes=7).eval()


def same_outputs(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        return torch.equal(a.eval()(x), b.eval()(x))


def test_our_resnet50_state_dict_is_torchvisions_layout() -> None:
    with torch.device("meta"):
        state = bare_model("resnet50").state_dict()
    assert len(state) == 320
    assert {k: tuple(state[k].shape) for k in TORCHVISION_RESNET50_KEYS} == TORCHVISION_RESNET50_KEYS
    assert list(state)[:2] == ["conv1.weight", "bn1.weight"] and list(state)[-2:] == ["fc.weight", "fc.bias"]


@pytest.mark.parametrize("wrap", ["plain", "module.", "_orig_mod.", "checkpoint dict"])
def test_pth_state_dicts_load_strictly(wrap: str, resnet18: torch.nn.Module, tmp_path: Path) -> None:
    state = resnet18.state_dict()
    if wrap in ("module.", "_orig_mod."):
        state = {wrap + k: v for k, v in state.items()}
    obj = {"state_dict": state, "epoch": 3, "arch": "resnet18"} if wrap == "checkpoint dict" else state
    torch.save(obj, tmp_path / "w.pth")
    assert detect_format(tmp_path / "w.pth") == "torch"
    checkpoint = load_weights_file(None, tmp_path / "w.pth")
    assert checkpoint.spec.name == "resnet18" and checkpoint.spec.head.classes == 7
    assert checkpoint.preprocessing.std == (0.229, 0.224, 0.225)
    assert same_outputs(checkpoint.build(), resnet18)


def test_legacy_pickle_pth_and_safetensors(resnet18: torch.nn.Module, tmp_path: Path) -> None:
    torch.save(resnet18.state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    safetensors.torch.save_file(resnet18.state_dict(), tmp_path / "model.safetensors")
    assert detect_format(tmp_path / "old.pt") == "torch"
    assert detect_format(tmp_path / "model.safetensors") == "safetensors"
    for name in ("old.pt", "model.safetensors"):
        assert same_outputs(resnets.create_model("resnet18", weights=tmp_path / name), resnet18)


def test_resnets_checkpoint_and_run_folder(resnet18: torch.nn.Module, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "run" / "best.safetensors", resnet18, classes=list("abcdefg"))
    assert detect_format(tmp_path / "run") == "resnets"
    checkpoint = load_weights_file(None, tmp_path / "run")
    assert checkpoint.classes == list("abcdefg") and same_outputs(checkpoint.build(), resnet18)


def test_googlenet_aux_heads_are_dropped_for_a_model_without_them(tmp_path: Path) -> None:
    """torchvision's GoogLeNet files carry the training-only auxiliary heads. (PyTorch's default
    initialisation here: the zoo's truncated normal takes seconds and is overwritten anyway.)"""
    with_aux = bare_model("googlenet_bn", aux_logits=True, init="torch").eval()
    torch.save(with_aux.state_dict(), tmp_path / "googlenet.pth")
    checkpoint = load_weights_file("googlenet_bn", tmp_path / "googlenet.pth", init="torch")
    assert "dropped the auxiliary heads" in checkpoint.config["source"]["notes"][0]
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(checkpoint.build()(x), with_aux(x))


def test_fine_tuning_keeps_all_but_the_classifier(resnet18: torch.nn.Module, tmp_path: Path) -> None:
    torch.save(resnet18.state_dict(), tmp_path / "w.pth")
    model = resnets.create_model("resnet18", weights=tmp_path / "w.pth", num_classes=3)
    assert model.fc.out_features == 3 and torch.equal(model.layer4[1].conv2.weight, resnet18.layer4[1].conv2.weight)


def test_mismatch_names_the_model_and_the_first_keys(resnet18: torch.nn.Module, tmp_path: Path) -> None:
    torch.save(resnet18.state_dict(), tmp_path / "w.pth")
    with pytest.raises(resnets.ResnetsError) as info:
        load_weights_file("resnet50", tmp_path / "w.pth")
    message = str(info.value)
    assert "do not fit resnet50:" in message and "\n" not in message
    assert "missing (first 'layer1.0.conv3.weight')" in message
    assert "unexpected" not in message
    assert "of another shape (first 'layer1.0.conv1.weight': (64, 64, 3, 3) in the file, (64, 64, 1, 1)" in message
    state = {**resnet18.state_dict(), "extra.weight": torch.zeros(1)}
    torch.save(state, tmp_path / "extra.pth")
    with pytest.raises(resnets.ResnetsError, match=r"1 unexpected \(first 'extra.weight'\)"):
        load_weights_file("resnet18", tmp_path / "extra.pth")


class RunsCode:
    """A pickle that would call ``os.system`` when loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    torch.save({"conv1.weight": torch.zeros(1), "payload": RunsCode(marker)}, tmp_path / "evil.pth")
    with pytest.raises(resnets.ResnetsError) as info:
        resnets.create_model("resnet18", weights=tmp_path / "evil.pth")
    message = str(info.value)
    assert "needs unpickling of arbitrary Python objects" in message and "system" in message
    assert "\n" not in message
    assert not marker.exists()


@pytest.mark.parametrize("name", ["w.pth", "old.pt", "w.safetensors", "ckpt.safetensors"])
def test_truncated_files_are_refused(name: str, resnet18: torch.nn.Module, tmp_path: Path) -> None:
    full = tmp_path / f"full-{name}"
    if name == "w.pth":
        torch.save(resnet18.state_dict(), full)
    elif name == "old.pt":
        torch.save(resnet18.state_dict(), full, _use_new_zipfile_serialization=False)
    elif name == "w.safetensors":
        safetensors.torch.save_file(resnet18.state_dict(), full)
    else:
        save_checkpoint(full, resnet18, classes=[])
    data = full.read_bytes()
    (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(resnets.ResnetsError, match=r"truncated|damaged|cut short"):
        load_weights_file("resnet18", tmp_path / name)


def test_unknown_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.pth").write_text("not weights")
    with pytest.raises(resnets.ResnetsError, match="cannot tell what"):
        load_weights_file(None, tmp_path / "notes.pth")
    with pytest.raises(resnets.ResnetsError, match="no file at"):
        load_weights_file(None, tmp_path / "missing.pth")
