"""``resnets predict CKPT PATH... [--top K] [--backend auto|torch|onnx] [--onnx FILE] [--tta MODE] [--json]``."""

from __future__ import annotations

import argparse
import json

from resnets.data import TTA_MODES
from resnets.serving import predict


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("predict", help="top-k labels with probabilities for images or folders")
    p.add_argument("checkpoint", help="a .safetensors checkpoint or a run folder")
    p.add_argument("inputs", nargs="+", metavar="PATH", help="image files or folders of images")
    p.add_argument("--top", type=int, default=5, help="how many labels per image (default 5)")
    p.add_argument("--batch-size", type=int, default=32, help="images per model call (default 32)")
    p.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto",
                   help="inference backend (default auto: ONNX Runtime on the CPU for jobs big enough to "
                        "repay its export, when it is installed)")
    p.add_argument("--onnx", dest="onnx_path", help="an .onnx file of this checkpoint (skips the export)")
    p.add_argument("--device", default="auto", help="the torch backend's device (auto, cpu, cuda ...)")
    p.add_argument("--tta", choices=TTA_MODES, default=None,
                   help="test-time views whose probabilities are averaged: none, flip, shift or flip+shift "
                        "(default: what the run evaluated with)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = predict(args.checkpoint, args.inputs, top_k=args.top, batch_size=args.batch_size,
                      device=args.device, backend=args.backend, onnx_path=args.onnx_path, tta=args.tta)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    for r in results:
        best = "  ".join(f"{label} {p:.3f}" for label, p in r.top)
        print(f"{r.path}: {best}")
    return 0
