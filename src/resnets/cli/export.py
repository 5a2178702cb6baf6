"""``resnets export MODEL_OR_CKPT --format onnx|torch-export|safetensors --out PATH [--input CxHxW]
[--dynamic-batch] [--json]``: a deployable artefact, checked against PyTorch."""

from __future__ import annotations

import argparse
import json

from resnets.interop import export
from resnets.interop.export import EXPORT_FORMATS, TOLERANCE


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a model or checkpoint to ONNX, torch.export (.pt2) or safetensors, checked",
        description="Export a zoo model (random weights) or a checkpoint / run folder / weight file. ONNX is "
        f"checked with onnx.checker and onnxruntime; a difference from PyTorch above {TOLERANCE:g} fails.",
    )
    p.add_argument("model", metavar="MODEL_OR_CKPT", help="a zoo name, a checkpoint, a run folder or a weight file")
    p.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to write")
    p.add_argument("--out", required=True, help="the file to write (.onnx, .pt2 or .safetensors)")
    p.add_argument("--input", help="input size CxHxW (default: the model's own)")
    p.add_argument("--dynamic-batch", action="store_true", help="a symbolic batch dimension")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    result = export(args.model, format=args.format, out=args.out, input_size=args.input,
                    dynamic_batch=args.dynamic_batch)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    if result.random_init:
        print(f"note: {result.model} has random weights (a zoo name, no checkpoint given)")
    batch = "dynamic batch" if result.dynamic_batch else "fixed batch"
    size = "x".join(map(str, result.input_size))
    print(f"wrote {result.path} ({result.format}, {result.model}, input {size}, {batch}) in {result.seconds:.1f} s")
    if result.format != "safetensors":
        print(f"max |{'onnxruntime' if result.format == 'onnx' else 'exported'} - PyTorch| = "
              f"{result.max_abs_diff:.2e} (limit {TOLERANCE:g})")
    return 0
