"""Shared by the serving tests: one checkpoint trained for real on the tiny data, its ONNX export, and SIGNS
test photos."""

from __future__ import annotations

from pathlib import Path

import pytest
import tiny_data

SIGNS_TEST = Path("signs/cs230_64x64/test_signs")


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ResNet-20 trained for one epoch on the tiny data (classes c0..c3: a red, green or blue tint, or a
    bright square; test accuracy 1.0 in that epoch)."""
    from resnets.training import train

    tiny_data.register()
    out = tmp_path_factory.mktemp("serve") / "tiny-run"
    result = train("resnet20", "tiny", out=out, **{**tiny_data.FAST, "epochs": 1, "precision": "fp32",
                                                   "plots": False})
    assert result.test is not None and result.test["top1"] > 0.95
    return result.best_checkpoint or result.checkpoint


@pytest.fixture(scope="session")
def onnx_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint exported to ONNX once for the session (the dynamo exporter takes seconds)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from resnets.serving.backends import export_onnx
    from resnets.training import load_checkpoint

    return export_onnx(load_checkpoint(checkpoint), tmp_path_factory.mktemp("onnx") / "model.onnx")


@pytest.fixture(scope="session")
def signs_images(shared_data: Path) -> list[Path]:
    """A few SIGNS test photos (64x64 JPEGs), one per class 0..5."""
    folder = shared_data / SIGNS_TEST
    if not folder.is_dir():
        pytest.skip(f"SIGNS test photos not found at {folder}")
    return [sorted(folder.glob(f"{label}_*.jpg"))[0] for label in range(6)]

