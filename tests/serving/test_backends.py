"""The torch and ONNX Runtime backends agree, on the fly or from a given file (one export per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from serve_helpers import TestClient, image_bytes

from resnets import ResnetsError
from resnets.serving import backends
from resnets.serving.app import create_app
from resnets.serving.backends import OnnxBackend, TorchBackend, make_backend
from resnets.training import load_checkpoint

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.mark.parametrize("batch", [1, 7])
def test_onnx_matches_torch_at_any_batch_size(checkpoint: Path, onnx_file: Path, batch: int) -> None:
    ckpt = load_checkpoint(checkpoint)
    x = torch.randn(batch, 3, 16, 16)
    expected = TorchBackend(ckpt, device="cpu")(x)
    got = OnnxBackend(ckpt, onnx_path=onnx_file)(x)
    assert got.shape == (batch, 4)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(got.sum(1), torch.ones(batch))


def test_without_a_file_the_model_is_exported_at_start_into_a_temporary_file(
    checkpoint: Path, onnx_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []

    def export_copy(ckpt: object, out: Path) -> Path:
        written.append(out)
        shutil.copy(onnx_file, out)
        return out

    monkeypatch.setattr(backends, "export_onnx", export_copy)
    ckpt = load_checkpoint(checkpoint)
    x = torch.randn(3, 3, 16, 16)
    torch.testing.assert_close(OnnxBackend(ckpt)(x), TorchBackend(ckpt, device="cpu")(x), atol=1e-5, rtol=1e-4)
    assert len(written) == 1 and not written[0].exists()


def test_the_app_on_onnx_answers_like_the_app_on_torch(checkpoint: Path, onnx_file: Path) -> None:
    images = [image_bytes(rgb) for rgb in [(220, 30, 30), (30, 220, 30), (30, 30, 220), (90, 90, 90)]]
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
    answers = {}
    for backend, path in (("torch", None), ("onnx", onnx_file)):
        with TestClient(create_app(checkpoint, backend=backend, onnx_path=path)) as client:
            assert client.get("/model").json()["backend"] == backend
            answers[backend] = client.post("/predict", files=files).json()["predictions"]
    for t, o in zip(answers["torch"], answers["onnx"], strict=True):
        assert [x["label"] for x in t["top"]] == [x["label"] for x in o["top"]]
        assert [x["probability"] for x in t["top"]] == pytest.approx([x["probability"] for x in o["top"]], abs=1e-5)


@pytest.mark.parametrize(
    ("name", "onnx_path", "message"),
    [
        ("tensorrt", None, "unknown backend 'tensorrt'"),
        ("torch", "model.onnx", "add --backend onnx"),
        ("onnx", "missing.onnx", "no ONNX file at missing.onnx"),
    ],
)
def test_bad_backend_choices_raise_one_sentence(checkpoint: Path, name: str, onnx_path: str | None,
                                                message: str) -> None:
    with pytest.raises(ResnetsError, match=message):
        make_backend(load_checkpoint(checkpoint), name, onnx_path=onnx_path)


def test_a_file_that_is_not_onnx_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ResnetsError, match="onnxruntime cannot load the model"):
        OnnxBackend(load_checkpoint(checkpoint), onnx_path=bad)
