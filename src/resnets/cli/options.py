"""Argument types and options several sub-commands share."""

from __future__ import annotations

import argparse
import re
from typing import Any

import yaml

_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with the value read as YAML (``3``, ``0.1``, ``true``, ``[1, 2]``, ``B``).

    Numbers with an exponent and no dot (``1e-3``), which YAML 1.1 reads as strings, are read as numbers.
    """
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    if _EXPONENT.fullmatch(value.strip()):
        return key.strip().replace("-", "_"), float(value)
    try:
        return key.strip().replace("-", "_"), yaml.safe_load(value)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"cannot read the value of {text!r}") from None


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        metavar="KEY=VALUE",
        type=key_value,
        action="append",
        default=[],
        help="override a spec field, e.g. --set num_classes=10 --set shortcut=B (repeatable)",
    )
