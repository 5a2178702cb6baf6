"""``resnets summary NAME [--input CxHxW] [--depth N|all] [--keras] [--json]``."""

from __future__ import annotations

import argparse
import json

from resnets.cli.options import add_overrides
from resnets.inspect import summary


def _depth(text: str) -> int | None:
    if text == "all":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError("depth is a positive integer or 'all'")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("summary", help="a Keras-like summary table of a zoo model")
    p.add_argument("name", help="a zoo model name (see `resnets models`)")
    p.add_argument("--input", help="input size CxHxW (default: the model's own, e.g. 3x64x64)")
    p.add_argument("--depth", type=_depth, default=1,
                   help="1: stages (default), 2: blocks, 'all': every layer")
    p.add_argument("--keras", action="store_true",
                   help="count BatchNorm moving statistics as non-trainable parameters, as Keras does")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = summary(args.name, args.input, depth=args.depth, keras=args.keras, **dict(args.overrides))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        result.print()
    return 0
