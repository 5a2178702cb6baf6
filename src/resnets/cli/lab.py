"""``resnets lab STUDY ...``: the residual lab's studies and their report, one sub-command each over the
function of the same name in :mod:`resnets.lab`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from resnets.cli.options import key_value

if TYPE_CHECKING:
    from resnets.lab import StudyResult


def _shared(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    p.add_argument("--out", help="output folder (default: a new folder under runs/)")
    if data:
        p.add_argument("--data", help="a data spec (default: the embedded shapes), e.g. cifar10:DIR")
        p.add_argument("--width", type=int, help="base width: the first stage's channels (16 as in the paper; "
                                                 "quick default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="the small CPU scale: minutes on two cores")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda ...")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    lab = subparsers.add_parser("lab", help="experiments that show why residual connections work")
    studies = lab.add_subparsers(dest="study", metavar="STUDY")

    p = studies.add_parser("gradients", help="per-layer gradient norms, plain against residual")
    p.add_argument("--models", default="plain56,resnet56", help="nets to compare (default: plain56,resnet56)")
    p.add_argument("--steps", type=int, help="SGD steps after the first measurement (quick 40, full 200)")
    p.add_argument("--norm", choices=("bn", "none"), default="bn",
                   help="bn, or none: BatchNorm-free nets measured beside the BatchNorm ones")
    p.add_argument("--init", choices=("auto", "kaiming", "glorot"), default="auto",
                   help="weight initialisation (auto: glorot with --norm none, as the course's Keras; else kaiming)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default 0.05)")
    p.add_argument("--batch-size", type=int, default=128, dest="batch_size", help="images per step (default 128)")
    _shared(p)
    p.set_defaults(func=_gradients)

    p = studies.add_parser("degradation", help="train plain and residual nets of each depth alike (Figure 6)")
    p.add_argument("--depths", default="20,56", help="CIFAR depths 6n+2 (default: 20,56)")
    p.add_argument("--recipe", default="fast", help="training recipe for every net (default: fast)")
    p.add_argument("--budget", type=int, help="epochs per net (default: the recipe's; quick 5)")
    p.add_argument("--no-progress", action="store_false", dest="progress", help="no progress bars")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", type=key_value, action="append", default=[],
                   help="a training-config key for every net, e.g. --set batch_size=64 (repeatable)")
    _shared(p)
    p.set_defaults(func=_degradation)

    p = studies.add_parser("responses", help="layer response strengths, plain against residual (Figure 7)")
    p.add_argument("--depths", default="20,56", help="depths of fresh nets (default: 20,56)")
    p.add_argument("--from", dest="from_run", help="a lab degradation folder: measure the nets it trained")
    _shared(p)
    p.set_defaults(func=_responses)

    p = studies.add_parser("identity", help="a deeper residual net computing exactly a shallower one")
    p.add_argument("--depths", default="20,56", help="the shallowest is copied into each deeper one")
    p.add_argument("--from", dest="from_run", help="a lab degradation folder: copy its trained shallow nets")
    p.add_argument("--steps", type=int, help="SGD steps that train the shallow nets first (quick 150, full 600)")
    _shared(p)
    p.set_defaults(func=_identity)

    p = studies.add_parser("lesion", help="delete one block at a time from trained nets (Veit et al.)")
    p.add_argument("--from", dest="from_run", required=True, help="a lab degradation folder")
    p.add_argument("--images", type=int, help="test images to evaluate on (quick 1,000; full 10,000)")
    _shared(p, data=False)
    p.set_defaults(func=_lesion)

    p = studies.add_parser("landscape", help="the loss surface around trained weights (Li et al.)")
    p.add_argument("--from", dest="from_run", required=True, help="a lab degradation folder")
    p.add_argument("--grid", type=int, help="points per axis (quick 11, full 21)")
    p.add_argument("--images", type=int, help="training images the loss is measured on (quick 256, full 512)")
    p.add_argument("--span", type=float, default=1.0, help="the grid covers [-span, span] (default 1)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    _shared(p, data=False)
    p.set_defaults(func=_landscape)

    p = studies.add_parser("report", help="one HTML and Markdown report over several study folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="folders written by resnets lab studies")
    p.add_argument("--out", help="where to write report.html and report.md")
    p.add_argument("--title", help="the page's title")
    p.set_defaults(func=_report)

    lab.set_defaults(func=lambda args: lab.print_help() or 2)


def _common(args: argparse.Namespace, *, data: bool = True) -> dict:
    common = {"out": args.out, "seed": args.seed, "quick": args.quick, "device": args.device}
    if data:
        common |= {"data": args.data, "width": args.width}
    return common


def _done(result: StudyResult) -> int:
    for line in result.conclusions:
        print(f"- {line}")
    folder = result.folder
    print(f"{result.study}: {len(result.figures)} figures, result.json and report.html in {folder} "
          f"({result.seconds:.0f} s)")
    return 0


def _gradients(args: argparse.Namespace) -> int:
    from resnets.lab import gradients

    return _done(gradients(args.models, steps=args.steps, norm=args.norm, init=args.init, lr=args.lr,
                           batch_size=args.batch_size, **_common(args)))


def _degradation(args: argparse.Namespace) -> int:
    from resnets.lab import degradation

    return _done(degradation(args.depths, recipe=args.recipe, budget=args.budget, progress=args.progress,
                             **dict(args.overrides), **_common(args)))


def _responses(args: argparse.Namespace) -> int:
    from resnets.lab import responses

    return _done(responses(args.depths, from_run=args.from_run, **_common(args)))


def _identity(args: argparse.Namespace) -> int:
    from resnets.lab import identity

    return _done(identity(args.depths, from_run=args.from_run, steps=args.steps, **_common(args)))


def _lesion(args: argparse.Namespace) -> int:
    from resnets.lab import lesion

    return _done(lesion(args.from_run, images=args.images, **_common(args, data=False)))


def _landscape(args: argparse.Namespace) -> int:
    from resnets.lab import landscape

    return _done(landscape(args.from_run, grid=args.grid, images=args.images, span=args.span,
                           precision=args.precision, **_common(args, data=False)))


def _report(args: argparse.Namespace) -> int:
    from resnets.lab import report

    path = report(args.runs, out=args.out, title=args.title)
    print(f"report: {path} and {path.with_suffix('.md')}")
    return 0
