"""The ``resnets`` command line: one thin sub-command per public function.

Each sub-command lives in its own module with ``add_parser(subparsers)``; the parser sets ``func``, which
turns parsed arguments into one call of the public Python function of the same name. Bad input (a
``ResnetsError``, any ``ValueError`` or ``OSError``) prints one line and exits with status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from resnets._version import __version__

COMMANDS = ("train", "evaluate", "predict", "lab", "serve", "models", "summary", "diagram", "convert", "export")
"""Sub-command modules under ``resnets.cli``, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnets",
        description="Build, train, inspect, study, convert and export residual networks.",
    )
    parser.add_argument("--version", action="version", version=f"resnets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"resnets.cli.{name.replace('-', '_')}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("resnets: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{message}: {exc.filename}"
        print(f"resnets: error: {message}", file=sys.stderr)
        return 2


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
