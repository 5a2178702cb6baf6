"""Checkpoints: atomic writes that survive a full disk, safe loading, clear refusals."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import safetensors.torch
import torch

from resnets import ResnetsError, create_model
from resnets.data import Preprocessing
from resnets.training import checkpoint as ckpt_module
from resnets.training import load_checkpoint, read_weights, save_checkpoint


@pytest.fixture
def model():
    return create_model("resnet20", num_classes=3)


def test_round_trip_keeps_weights_metadata_and_training_state(model, tmp_path: Path) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    state = {"optimizer": opt.state_dict(), "epoch": 3, "nested": {1: (2.5, None, "x")}}
    path = save_checkpoint(tmp_path / "c.safetensors", model, classes=["a", "b", "c"],
                           preprocessing=Preprocessing((32, 32)), metrics={"top1": 0.5}, train_state=state)
    back = load_checkpoint(path, train_state=True)
    assert back.classes == ["a", "b", "c"] and back.metrics == {"top1": 0.5}
    assert back.train_state["nested"] == {1: (2.5, None, "x")}
    buffers = back.train_state["optimizer"]["state"]
    assert torch.equal(buffers[0]["momentum_buffer"], opt.state_dict()["state"][0]["momentum_buffer"])
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(back.build()(x), model.eval()(x))
    assert not any(k.startswith("train_state/") for k in load_checkpoint(path).weights)
    plain = safetensors.torch.load_file(path)
    assert "conv1.weight" in plain  # any safetensors reader sees a plain state dict


def test_a_full_disk_keeps_the_previous_checkpoint(model, tmp_path: Path, monkeypatch) -> None:
    path = save_checkpoint(tmp_path / "last.safetensors", model, classes=["a", "b", "c"])
    before = path.read_bytes()

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ckpt_module.os, "fsync", full)
    with pytest.raises(ResnetsError, match="disk is full.*previous file there is kept"):
        save_checkpoint(path, create_model("resnet20", num_classes=3), classes=["a", "b", "c"])
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary file left behind"


def test_truncated_and_foreign_files_are_refused(model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.safetensors", model, classes=["a", "b", "c"])
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ResnetsError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    foreign = tmp_path / "f.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, foreign)
    with pytest.raises(ResnetsError, match="not a resnets checkpoint"):
        load_checkpoint(foreign)
    junk = tmp_path / "j.safetensors"
    junk.write_bytes(os.urandom(100))
    with pytest.raises(ResnetsError):
        load_checkpoint(junk)
    with pytest.raises(ResnetsError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(ResnetsError, match="holds no best.safetensors or last.safetensors"):
        load_checkpoint(tmp_path)


def test_weights_of_another_model_name_the_first_mismatch(model, tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "c.safetensors", model, classes=["a", "b", "c"])
    state, _ = read_weights(path, model.spec)
    other = create_model("resnet32", num_classes=3)
    from resnets.models.weights import load_weights

    with pytest.raises(ResnetsError, match=r"do not fit resnet32: .*missing \(first 'layer1\.3\.conv1\.weight'\)"):
        load_weights(other, state, source="these weights")
