"""``resnets serve``: options reach the app, one-line errors, and a real server process with two workers."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_helpers import TestClient, image_bytes

from resnets.cli import main
from resnets.data import Preprocessing
from resnets.models import create_model
from resnets.training import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained ResNet-20 with three classes: these tests check the plumbing, not the predictions."""
    path = tmp_path_factory.mktemp("serve-cli") / "model.safetensors"
    return save_checkpoint(path, create_model("resnet20", num_classes=3, input_size=(3, 16, 16)),
                           classes=["a", "b", "c"], preprocessing=Preprocessing((16, 16)))


def test_serve_binds_localhost_by_default_and_passes_its_options(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    import uvicorn

    calls: list[tuple[object, dict]] = []
    threads: list[int] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    assert main(["serve", str(checkpoint), "--max-batch", "1", "--top", "2", "--max-files", "3", "--threads", "1"]) == 0
    (app, kw), = calls
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8000 and "workers" not in kw and threads == [1]
    with TestClient(app) as client:
        model = client.get("/model").json()
        assert model["top_k"] == 2 and model["limits"]["max_batch"] == 1 and model["limits"]["max_files"] == 3
        top = client.post("/predict", content=image_bytes()).json()["predictions"][0]["top"]
        assert len(top) == 2 and {t["label"] for t in top} <= {"a", "b", "c"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "no/such.safetensors"], "no checkpoint at no/such.safetensors"),
        (["serve", "CKPT", "--workers", "0"], "--workers must be at least 1"),
        (["serve", "CKPT", "--threads", "0"], "--threads must be at least 1"),
        (["serve", "CKPT", "--backend", "onnx", "--onnx", "missing.onnx"], "no ONNX file at missing.onnx"),
        (["serve", "CKPT", "--max-files", "0"], "max_files must be at least 1"),
    ],
)
def test_bad_options_get_one_line_and_exit_status_2(
    checkpoint: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(checkpoint) if a == "CKPT" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_missing_extra_names_it(checkpoint: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)
    assert main(["serve", str(checkpoint)]) == 2
    assert capsys.readouterr().err == "resnets: error: serving needs fastapi: pip install resnets[serve]\n"


def test_a_real_server_with_two_workers_answers_and_stops_on_ctrl_c(checkpoint: Path) -> None:
    command = [sys.executable, "-m", "resnets", "serve", str(checkpoint), "--port", "0", "--workers", "2"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()
    try:
        url, deadline = None, time.monotonic() + 60
        while url is None and time.monotonic() < deadline and process.poll() is None:
            try:
                found = re.search(r"running on (http://127\.0\.0\.1:\d+)", lines.get(timeout=1))
            except queue.Empty:
                continue
            url = found and found.group(1)
        assert url, "the server did not report its address"
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(100):
                try:
                    if client.get("/health").json()["status"] == "ok":
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            answers = [client.post("/predict", content=image_bytes()).status_code for _ in range(6)]
            assert answers == [200] * 6 and client.get("/model").json()["name"] == "resnet20"
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)
    assert code == 0
