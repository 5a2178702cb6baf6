"""``predict()`` and ``resnets predict`` on both backends, and how ``auto`` chooses between them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnets import ResnetsError
from resnets.cli import main
from resnets.serving import backends, predict
from resnets.serving.backends import choose_backend, gmacs_per_image
from resnets.training import load_checkpoint

COLOURS = {"c0": (220, 30, 30), "c1": (30, 220, 30), "c2": (30, 30, 220)}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Nine tinted PNGs, three per class c0..c2, named ``<class>_<i>.png``."""
    folder = tmp_path_factory.mktemp("images")
    for label, (r, g, b) in COLOURS.items():
        for i in range(3):
            Image.new("RGB", (16, 16), (r - 20 * i, g + 10 * i, b)).save(folder / f"{label}_{i}.png")
    return folder


def test_onnx_and_torch_give_the_same_labels_and_probabilities(checkpoint: Path, onnx_file: Path,
                                                               images: Path) -> None:
    on_torch = predict(checkpoint, [images], top_k=3, batch_size=4, backend="torch", device="cpu")
    on_onnx = predict(checkpoint, [images], top_k=3, batch_size=4, backend="onnx", onnx_path=onnx_file)
    assert len(on_torch) == len(on_onnx) == 9
    assert {r.backend for r in on_torch} == {"torch"} and {r.backend for r in on_onnx} == {"onnx"}
    for t, o in zip(on_torch, on_onnx, strict=True):
        assert t.path == o.path and t.top[0][0] == Path(t.path).stem.split("_")[0]
        assert [label for label, _ in t.top] == [label for label, _ in o.top]
        assert [p for _, p in t.top] == pytest.approx([p for _, p in o.top], abs=1e-5)
        assert 0 < sum(p for _, p in t.top) <= 1 + 1e-6


def test_auto_keeps_torch_for_a_small_job(checkpoint: Path) -> None:
    ckpt = load_checkpoint(checkpoint)
    assert gmacs_per_image(ckpt) == pytest.approx(0.010138, rel=1e-4)  # ResNet-20 at 16x16: a quarter of 32x32's
    assert choose_backend(ckpt, images=10, device="cpu") == "torch"


def test_auto_takes_onnx_when_a_file_is_given(checkpoint: Path, onnx_file: Path) -> None:
    assert choose_backend(load_checkpoint(checkpoint), images=1, device="cpu", onnx_path=onnx_file) == "onnx"


def test_auto_takes_onnx_when_the_work_repays_the_export(checkpoint: Path, onnx_file: Path, images: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = load_checkpoint(checkpoint)
    per_image = gmacs_per_image(ckpt)
    monkeypatch.setattr(backends, "AUTO_ONNX_MIN_GMACS", 9 * per_image)
    assert choose_backend(ckpt, images=8, device="cpu") == "torch"
    assert choose_backend(ckpt, images=9, device="cpu") == "onnx"
    exported: list[Path] = []

    def export_copy(ckpt: object, out: Path) -> Path:
        exported.append(out)
        return Path(shutil.copy(onnx_file, out))

    monkeypatch.setattr(backends, "export_onnx", export_copy)
    results = predict(checkpoint, [images], top_k=1, device="cpu")
    assert len(exported) == 1 and {r.backend for r in results} == {"onnx"}


def test_auto_falls_back_to_torch_without_onnx_runtime(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "onnx_available", lambda export=True: False)
    monkeypatch.setattr(backends, "AUTO_ONNX_MIN_GMACS", 0.0)
    ckpt = load_checkpoint(checkpoint)
    assert choose_backend(ckpt, images=10**6, device="cpu") == "torch"
    with pytest.raises(ResnetsError, match="onnxruntime is not installed"):
        choose_backend(ckpt, images=1, device="cpu", onnx_path="model.onnx")


def test_onnx_is_refused_on_an_explicit_gpu(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "pick_device", lambda name: torch.device("cuda" if name != "cpu" else "cpu"))
    ckpt = load_checkpoint(checkpoint)
    with pytest.raises(ResnetsError, match="the onnx backend runs on the CPU, not cuda"):
        choose_backend(ckpt, "onnx", images=1, device="cuda")
    with pytest.raises(ResnetsError, match="an ONNX file runs on the CPU"):
        choose_backend(ckpt, images=1, device="cuda", onnx_path="model.onnx")
    assert choose_backend(ckpt, images=10**9, device="cuda") == "torch"


def test_a_given_onnx_file_runs_on_the_cpu_of_a_gpu_machine(checkpoint: Path, onnx_file: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "pick_device", lambda name: torch.device("cuda" if name != "cpu" else "cpu"))
    assert choose_backend(load_checkpoint(checkpoint), images=1, device="auto", onnx_path=onnx_file) == "onnx"


def test_auto_falls_back_to_torch_when_its_own_export_fails(checkpoint: Path, images: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_export(ckpt: object, out: Path) -> Path:
        raise ResnetsError("cannot export this model to ONNX")

    monkeypatch.setattr(backends, "onnx_available", lambda export=True: True)
    monkeypatch.setattr(backends, "AUTO_ONNX_MIN_GMACS", 0.0)
    monkeypatch.setattr(backends, "export_onnx", failing_export)
    assert choose_backend(load_checkpoint(checkpoint), images=1, device="cpu") == "onnx"
    results = predict(checkpoint, [images], top_k=1, device="cpu")
    assert len(results) == 9 and {r.backend for r in results} == {"torch"}
    assert all(r.top[0][0] == Path(r.path).stem.split("_")[0] for r in results)
    with pytest.raises(ResnetsError, match="cannot export|onnxruntime"):
        predict(checkpoint, [images], top_k=1, device="cpu", backend="onnx")


def test_cli_predict_on_onnx_reports_its_backend(checkpoint: Path, onnx_file: Path, images: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["predict", str(checkpoint), str(images / "c2_0.png"), "--backend", "onnx", "--device", "cpu",
                 "--onnx", str(onnx_file), "--top", "2", "--json"]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert out["backend"] == "onnx" and out["top"][0]["label"] == "c2" and len(out["top"]) == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"top_k": 0}, "--top must be at least 1"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"backend": "tensorrt"}, "unknown backend 'tensorrt'"),
        ({"backend": "torch", "onnx_path": "model.onnx"}, "add --backend onnx"),
    ],
)
def test_bad_predict_options_raise_one_sentence(checkpoint: Path, images: Path, options: dict,
                                                message: str) -> None:
    with pytest.raises(ResnetsError, match=message):
        predict(checkpoint, [images], **options)
