"""``resnets models [PATTERN] [--family F] [--json]``: the zoo, with parameters and MACs."""

from __future__ import annotations

import argparse
import dataclasses
import json

from rich.console import Console
from rich.table import Table

from resnets.inspect import zoo_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list the model zoo (parameters, MACs at the default input)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name filter, e.g. 'resnet*'")
    p.add_argument("--family", help="only this family (imagenet, cifar, plain, course, keras, ocr, inception)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = zoo_table(args.pattern, family=args.family)
    if args.json:
        print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return 0
    table = Table(title=f"resnets model zoo ({len(rows)} models)", title_justify="left")
    for column, justify in (("name", "left"), ("family", "left"), ("params", "right"), ("GMACs", "right"),
                            ("input", "left"), ("what", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(r.name, r.family, f"{r.params:,}", f"{r.macs / 1e9:.3f}", "x".join(map(str, r.input_size)),
                      r.description)
    Console().print(table)
    return 0
