"""``resnets diagram NAME --out FILE [--input CxHxW] [--detail stages|blocks]``."""

from __future__ import annotations

import argparse

from resnets.cli.options import add_overrides
from resnets.inspect import diagram, parse_size


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("diagram", help="draw a model's block diagram (SVG, PNG or PDF)")
    p.add_argument("name", help="a zoo model name")
    p.add_argument("--out", required=True, help="output file; .svg, .png or .pdf")
    p.add_argument("--input", help="input size CxHxW (default: the model's own)")
    p.add_argument("--detail", choices=("stages", "blocks"), default="stages",
                   help="fold identical blocks (stages, default) or draw every block")
    add_overrides(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    size = parse_size(args.input) if args.input else None
    path = diagram(args.name, args.out, input_size=size, detail=args.detail, **dict(args.overrides))
    print(f"wrote {path}")
    return 0
