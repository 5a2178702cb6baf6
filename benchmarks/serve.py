"""Load check of ``resnets serve`` on 127.0.0.1: requests/s and p50/p99 latency at 1, 8 and 32 concurrent
clients, with micro-batching (``--max-batch 32``) and without (``--max-batch 1``).

Each mode starts a fresh server process and warms it up; then, for each N, N concurrent asyncio clients
(httpx) send a bounded number of single-image POSTs, stopping early at a time limit. Every response must
be a 200 with one prediction, else it counts as an error; the server's own count of requests it ran must
equal the answers received, else the difference counts as lost. As a ceiling, the model's own throughput
at batch 1 and batch 32 is measured in this process, with no HTTP. The client runs on the same machine
as the server, so both share its cores.

    python benchmarks/serve.py                      # an untrained ResNet-18 at SIGNS size (64x64, 6 classes)
    python benchmarks/serve.py --checkpoint runs/x  # a checkpoint or run folder of yours

Writes ``benchmarks/results/serve-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import torch
from PIL import Image

from resnets.data import Preprocessing
from resnets.models import create_model
from resnets.serving.backends import TorchBackend
from resnets.training import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SIGNS_TEST = Path("signs/cs230_64x64/test_signs")
MODES = {"batching": ["--max-batch", "32", "--window-ms", "5"], "no batching": ["--max-batch", "1"]}


def make_checkpoint(model: str, size: int, folder: Path) -> Path:
    """An untrained SIGNS-shaped checkpoint: speed does not depend on the weights."""
    net = create_model(model, num_classes=6, input_size=(3, size, size))
    return save_checkpoint(folder / f"{model}-{size}.safetensors", net, classes=[str(i) for i in range(6)],
                           preprocessing=Preprocessing((size, size)))


def sample_image() -> tuple[bytes, str]:
    """A SIGNS test photo where the data is found, else a generated 64x64 JPEG."""
    data = Path(os.environ.get("RESNETS_DATA", ROOT.parent / "shared" / "data")) / SIGNS_TEST
    photos = sorted(data.glob("*.jpg")) if data.is_dir() else []
    if photos:
        return photos[0].read_bytes(), str(photos[0])
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue(), "generated 64x64 JPEG"


def model_throughput(checkpoint: Path, batch: int, seconds: float = 3.0) -> float:
    """Images per second of the server's torch backend alone (normalize + forward + softmax) at ``batch``."""
    ckpt = load_checkpoint(checkpoint)
    assert ckpt.preprocessing is not None
    model, pre = TorchBackend(ckpt, device="cpu"), ckpt.preprocessing
    x = torch.randint(0, 256, (batch, pre.channels, *pre.size), dtype=torch.uint8)
    for _ in range(3):
        model(pre.normalize(x))
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model(pre.normalize(x))
        runs += 1
    return runs * batch / (time.perf_counter() - start)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint: Path, options: list[str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "resnets", "serve", str(checkpoint), "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", *options]
    process = subprocess.Popen(command)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not answer within 120 s")


async def drive(url: str, image: bytes, clients: int, requests: int, max_seconds: float) -> dict[str, Any]:
    """``requests`` POSTs from ``clients`` concurrent clients (fewer if ``max_seconds`` runs out)."""
    latencies: list[float] = []
    errors: list[str] = []
    sent = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + max_seconds

        async def one_client() -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                start = time.perf_counter()
                try:
                    response = await client.post("/predict", content=image,
                                                 headers={"content-type": "image/jpeg"})
                    ok = response.status_code == 200 and len(response.json()["predictions"]) == 1
                    if not ok:
                        errors.append(f"{response.status_code} {response.text[:80]}")
                        continue
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                latencies.append(time.perf_counter() - start)

        before = (await client.get("/health")).json()["batching"]
        start = time.perf_counter()
        await asyncio.gather(*[one_client() for _ in range(clients)])
        wall = time.perf_counter() - start
        after = (await client.get("/health")).json()["batching"]
    served = {k: after[k] - before[k] for k in ("batches", "images", "requests")}
    served["mean_batch"] = round(served["images"] / served["batches"], 2) if served["batches"] else 0.0
    ordered = sorted(latencies)
    return {
        "clients": clients, "sent": sent, "ok": len(latencies), "errors": len(errors), "error_samples": errors[:3],
        "lost": max(sent - len(latencies) - len(errors), served["requests"] - len(latencies)),
        "seconds": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(ordered), 2) if ordered else None,
        "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 2) if ordered else None,
        "server": served,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint or run folder (default: make one)")
    parser.add_argument("--model", default="resnet18", help="zoo model of the made checkpoint")
    parser.add_argument("--size", type=int, default=64, help="input size of the made checkpoint")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=600, help="requests per setting (an upper bound)")
    parser.add_argument("--max-seconds", type=float, default=30, help="time limit per setting")
    parser.add_argument("--threads", type=int, help="torch threads, for the server and the model alone")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = ["--threads", str(args.threads)] if args.threads else []

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or make_checkpoint(args.model, args.size, Path(tmp))
        image, image_name = sample_image()
        ceiling = {f"batch_{b}": round(model_throughput(checkpoint, b), 1) for b in (1, 32)}
        print(f"model alone: {ceiling['batch_1']} img/s at batch 1, {ceiling['batch_32']} img/s at batch 32")
        results = []
        for mode, options in MODES.items():
            process, url = start_server(checkpoint, options + threads)
            try:
                asyncio.run(drive(url, image, 4, 40, 30))  # warm-up
                for clients in args.clients:
                    row = {"mode": mode, **asyncio.run(drive(url, image, clients, args.requests, args.max_seconds))}
                    results.append(row)
                    print(f"{mode:>12}  {clients:>3} clients  {row['requests_per_s']:>7} req/s  "
                          f"p50 {row['p50_ms']:>7} ms  p99 {row['p99_ms']:>7} ms  ok {row['ok']}/{row['sent']}  "
                          f"errors {row['errors']}  lost {row['lost']}  "
                          f"mean batch {row['server']['mean_batch']}")
            finally:
                process.terminate()
                process.wait(30)

    record = {
        "when": datetime.now().isoformat(timespec="seconds"), "checkpoint": str(args.checkpoint or
                                                                                f"untrained {args.model}"),
        "input": [3, args.size, args.size] if not args.checkpoint else None, "image": image_name,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                    "threads": torch.get_num_threads()},
        "model_alone_img_per_s": ceiling, "requests_per_setting": args.requests, "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"serve-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"wrote {path}")
    if any(r["errors"] or r["lost"] for r in results):
        sys.exit("some requests failed or were lost")


if __name__ == "__main__":
    main()
