"""``resnets serve CKPT [--host 127.0.0.1] [--port 8000] [--workers N] [--backend torch|onnx] ...``."""

from __future__ import annotations

import argparse

from resnets.data import TTA_MODES
from resnets.serving import serve


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("serve", help="serve a checkpoint over HTTP: a JSON API and a page to try it")
    p.add_argument("checkpoint", help="a .safetensors checkpoint or a run folder")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with the model (default 1)")
    p.add_argument("--threads", type=int, help="CPU threads for inference per worker (default: torch's / workers)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="inference backend")
    p.add_argument("--onnx", dest="onnx_path", help="an .onnx file for --backend onnx (default: export the model)")
    p.add_argument("--device", default="auto", help="the torch backend's device (auto, cpu, cuda ...)")
    p.add_argument("--max-batch", type=int, default=32, help="most images in one model call; 1 turns batching off")
    p.add_argument("--window-ms", type=float, default=5.0, help="how long a batch waits for company (default 5)")
    p.add_argument("--max-bytes", type=int, default=10 << 20, help="most bytes per image (default 10 MiB)")
    p.add_argument("--max-files", type=int, default=16, help="most images per request (default 16)")
    p.add_argument("--max-pixels", type=int, default=40_000_000, help="most pixels per image (default 40M)")
    p.add_argument("--top", dest="top_k", type=int, default=5, help="labels per image (default 5)")
    p.add_argument("--tta", choices=TTA_MODES, default=None,
                   help="test-time views averaged per image: none, flip, shift or flip+shift "
                        "(default: what the run used)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run)


OPTIONS = ("onnx_path", "device", "max_batch", "window_ms", "max_bytes", "max_files", "max_pixels", "top_k", "tta")


def run(args: argparse.Namespace) -> int:
    serve(args.checkpoint, host=args.host, port=args.port, workers=args.workers, threads=args.threads,
          backend=args.backend, log_level=args.log_level, **{name: getattr(args, name) for name in OPTIONS})
    return 0
