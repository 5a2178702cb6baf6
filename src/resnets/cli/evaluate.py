"""``resnets evaluate CKPT [--data SPEC] [--split test] [--out DIR] [--tta MODE] [--json]``."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from resnets.data import TTA_MODES
from resnets.training import evaluate


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("evaluate", help="top-1/top-5, loss, per-class accuracy and a confusion matrix")
    p.add_argument("checkpoint", help="a .safetensors checkpoint or a run folder (its best checkpoint)")
    p.add_argument("--data", help="a data spec (default: the data the run trained on)")
    p.add_argument("--split", choices=("test", "val", "train"), default="test")
    p.add_argument("--batch-size", type=int, default=256, dest="batch_size")
    p.add_argument("--out", help="folder for eval-<split>.json and confusion-<split>.png (default: the run folder)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16", "auto"), default="fp32",
                   help="fp32 (default: exact) or a faster autocast precision")
    p.add_argument("--recalibrate-bn", action="store_true", dest="recalibrate_bn",
                   help="recompute BatchNorm statistics over training images first (the file is not changed)")
    p.add_argument("--recalibrate-batches", type=int, default=50, dest="recalibrate_batches",
                   help="training batches to recompute the statistics over (default: 50)")
    p.add_argument("--tta", choices=TTA_MODES, default=None,
                   help="test-time views to average: none, flip, shift or flip+shift (default: what the run used)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = evaluate(args.checkpoint, args.data, split=args.split, batch_size=args.batch_size, out=args.out,
                      device=args.device, precision=args.precision, recalibrate=args.recalibrate_bn,
                      recalibrate_batches=args.recalibrate_batches, tta=args.tta)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    m = result.metrics
    console = Console(highlight=False)
    recal = ", BatchNorm statistics recomputed" if result.recalibrated_bn else ""
    recal += "" if result.tta == "none" else f", {result.tta} test-time views"
    console.print(f"{result.checkpoint} on {result.data} ({result.split}, {m.count} images{recal}): "
                  f"top-1 {m.top1:.4f}  top-5 {m.top5:.4f}  loss {m.loss:.4f}")
    table = Table("class", "accuracy", title="per class", title_justify="left")
    for name, acc in zip(result.classes, m.per_class, strict=True):
        table.add_row(name, f"{acc:.4f}")
    console.print(table)
    console.print(f"wrote {', '.join(str(f) for f in result.files)}")
    return 0
