"""``resnets train [--model NAME] [--data SPEC] [--recipe NAME] [--epochs N] [--out DIR] [--resume] ...``

With no options it trains the default recipe (a CIFAR ResNet-20) on the embedded data set. Every
training-config key can be set with ``--set KEY=VALUE``; the common ones have flags of their own.
"""

from __future__ import annotations

import argparse
import dataclasses

from resnets.cli.options import key_value
from resnets.training import RECIPES, TrainConfig, train


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    keys = ", ".join(f.name for f in dataclasses.fields(TrainConfig))
    p = subparsers.add_parser("train", help="train a zoo model (default: ResNet-20 on the embedded data)",
                              epilog=f"config keys for --set and --config: {keys} (docs/training.md)")
    p.add_argument("--model", help="a zoo model name (default: the recipe's)")
    p.add_argument("--data", help="shapes (default, embedded), signs:DIR, cifar10:DIR, cifar100:DIR, folder:DIR")
    p.add_argument("--recipe", choices=RECIPES, help="named settings (default: default)")
    p.add_argument("--config", help="a YAML file of config keys (applied after the recipe)")
    p.add_argument("--epochs", type=int, help="epochs (the schedule is rescaled to them)")
    p.add_argument("--iterations", type=int, help="length in steps instead of epochs (the paper's counting)")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--lr", type=float, help="peak learning rate")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"))
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run folder (default: runs/<model>-<data>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--weights", help="start from these weights (fine-tuning); a new head is made for the data")
    p.add_argument("--freeze", type=int, help="freeze the stem and this many stages")
    p.add_argument("--freeze-bn", action="store_true", default=None, dest="freeze_bn",
                   help="keep BatchNorm statistics and affine parameters fixed")
    p.add_argument("--backbone-lr-scale", type=float, dest="backbone_lr_scale",
                   help="learning-rate multiplier for everything but the head (e.g. 0.1 when fine-tuning)")
    p.add_argument("--compile", choices=("auto", "on", "off"), help="torch.compile the model")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
    p.add_argument("--deterministic", action="store_true", default=None,
                   help="deterministic algorithms (slower on GPU)")
    p.add_argument("--limit", type=int, help="at most this many images per split (quick runs)")
    p.add_argument("--val-fraction", type=float, dest="val_fraction",
                   help="hold out this share of the training images for validation")
    p.add_argument("--workers", type=int, help="data-loading workers for image folders")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch (default: one per core; on a machine other jobs keep busy, fewer "
                        "threads can be many times faster)")
    p.add_argument("--sync-bn", action="store_true", default=None, dest="sync_bn",
                   help="SyncBatchNorm across GPUs under torchrun")
    p.add_argument("--tensorboard", action="store_true", default=None, help="also log to TensorBoard")
    p.add_argument("--no-progress", action="store_false", default=None, dest="progress",
                   help="no progress bars (summary lines only)")
    p.add_argument("--set", dest="overrides", metavar="KEY=VALUE", type=key_value, action="append", default=[],
                   help="any config key, e.g. --set label_smoothing=0 --set pad=0 (repeatable)")
    p.set_defaults(func=run)


FLAGS = ("epochs", "iterations", "batch_size", "lr", "precision", "seed", "weights", "freeze", "freeze_bn",
         "backbone_lr_scale", "compile", "device", "deterministic", "limit", "val_fraction", "workers", "threads",
         "sync_bn",
         "tensorboard", "progress")


def run(args: argparse.Namespace) -> int:
    options = {name: getattr(args, name) for name in FLAGS}
    options.update(dict(args.overrides))
    train(args.model, args.data, recipe=args.recipe, config=args.config, out=args.out, resume=args.resume,
          **options)
    return 0
