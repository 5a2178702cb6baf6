"""``resnets convert SRC DST [--model NAME] [--json]``: a weight file from one format to another."""

from __future__ import annotations

import argparse
import json
from typing import Any

from resnets.interop import convert


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "convert",
        help="convert weights (Keras .h5/.keras/.weights.h5, .pth, safetensors) to another format",
        description="Read weights from Keras (the course, Keras applications), torchvision, timm or a resnets "
        "checkpoint, detected by content, and write DST in the format its suffix names: .safetensors (a "
        "resnets checkpoint), .pth/.pt (a torchvision-layout state dict) or .weights.h5 (Keras 3).",
    )
    p.add_argument("src", help="the weight file to read")
    p.add_argument("dst", help="the file to write: .safetensors, .pth, .pt or .weights.h5")
    p.add_argument("--model", help="the zoo model the weights are for (default: the one the file identifies)")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = convert(args.src, args.dst, model=args.model)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"read {result.src} ({result.source_format}, matched {result.matched}) as {result.model} "
          f"with {result.classes} classes")
    for note in result.notes:
        print(f"note: {note}")
    pre = result.preprocessing
    print(f"preprocessing: {describe(pre.to_dict()) if pre else 'none recorded'}")
    print(f"wrote {result.dst} ({result.target_format})")
    return 0


def describe(pre: dict[str, Any]) -> str:
    """A preprocessing record in a few words: ``RGB, x * 0.003922, mean (0, 0, 0), std (1, 1, 1), 64x64``."""
    def nums(values: list[float]) -> str:
        return "(" + ", ".join(f"{v:g}" for v in values) + ")"

    return (f"{pre['channel_order']}, x * {pre['scale']:.6g}, minus {nums(pre['mean'])}, divided by "
            f"{nums(pre['std'])}, {pre['size'][0]}x{pre['size'][1]} ({pre['resize']})")
