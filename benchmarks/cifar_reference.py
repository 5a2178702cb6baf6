"""CIFAR-10 end to end: `resnets train --recipe fast` against the plain PyTorch reference loop, same machine.

The reference loop is the one ``../shared/notes/reference-runs.md`` measured (87.3% after 10 epochs in 384 s on
another day): all 50,000 training images, per-channel mean/std, reflect-pad 4 + one random crop offset per batch
+ flip, Nesterov SGD 0.9, wd 5e-4, torch's ``OneCycleLR`` to 0.2 with 25% warm-up, label smoothing 0.1, batch
128, bf16 autocast where the CPU has it, channels_last. It trains the same ResNet-20 (the zoo's), written as the
usual twenty lines of loop, for ``--epochs`` (the reference's 10). Ours runs the `fast` recipe as shipped (its own
epoch count unless ``--ours-epochs``). Both run in this process one after the other with the same seed and
threads (``--ours-first`` swaps the order, to see drift of the machine's speed), and the script prints test
accuracy, training seconds and the time ratio.

    .venv/bin/python benchmarks/cifar_reference.py --data ../shared/data/cifar10 [--epochs 10] [--ours-first]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F

from resnets import create_model
from resnets.data import load_data
from resnets.training import train
from resnets.training.runtime import cpu_has_bf16

HERE = Path(__file__).resolve().parent


def plain_loop(data_dir: str, epochs: int, seed: int) -> dict:
    torch.manual_seed(seed)
    bundle = load_data(f"cifar10:{data_dir}")
    pre = bundle.preprocessing
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1) * 255
    std = torch.tensor(pre.std).view(1, 3, 1, 1) * 255
    train_x, train_y = bundle.train.images, bundle.train.labels
    test_x, test_y = bundle.test.images, bundle.test.labels
    model = create_model("resnet20", num_classes=10).to(memory_format=torch.channels_last)
    steps_per_epoch = len(train_x) // 128
    opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, total_steps=epochs * steps_per_epoch,
                                                pct_start=0.25)
    dtype = torch.bfloat16 if cpu_has_bf16() else torch.float32
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for k in range(steps_per_epoch):
            index = order[k * 128:(k + 1) * 128]
            x = (train_x[index].float() - mean) / std
            x = F.pad(x, (4, 4, 4, 4), mode="reflect")
            i, j = torch.randint(0, 9, (2,)).tolist()
            x = x[:, :, i:i + 32, j:j + 32]
            flip = torch.rand(len(x)) < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
                loss = F.cross_entropy(model(x), train_y[index], label_smoothing=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    seconds = time.perf_counter() - start
    model.eval()
    correct = 0
    with torch.no_grad(), torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
        for k in range(0, len(test_x), 500):
            x = ((test_x[k:k + 500].float() - mean) / std).contiguous(memory_format=torch.channels_last)
            correct += int((model(x).argmax(1) == test_y[k:k + 500]).sum())
    return {"test_acc": correct / len(test_x), "train_seconds": seconds}


def ours(data_dir: str, epochs: int | None, seed: int, out: Path) -> dict:
    result = train(recipe="fast", data=f"cifar10:{data_dir}", epochs=epochs, seed=seed, out=out, progress=False,
                   plots=False)
    return {"test_acc": result.test["top1"], "train_seconds": result.train_seconds, "epochs": result.config.epochs,
            "tta": result.config.tta}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a CIFAR-10 folder (npz layout or the python archive)")
    parser.add_argument("--epochs", type=int, default=10, help="the plain loop's epochs (the reference: 10)")
    parser.add_argument("--ours-epochs", type=int, default=None, help="ours (default: the fast recipe's own)")
    parser.add_argument("--ours-first", action="store_true", help="run ours before the plain loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    rows: dict[str, dict] = {}
    for name in ("ours", "plain") if args.ours_first else ("plain", "ours"):
        if name == "plain":
            rows[name] = plain_loop(args.data, args.epochs, args.seed)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                rows[name] = ours(args.data, args.ours_epochs, args.seed, Path(tmp) / "run")
        print(f"{name}: {rows[name]}", flush=True)
    ratio = rows["plain"]["train_seconds"] / rows["ours"]["train_seconds"]
    print(f"\n{'':12}{'test acc':>10}{'train s':>10}\nplain loop  {rows['plain']['test_acc']:>10.4f}"
          f"{rows['plain']['train_seconds']:>10.0f}\nours        {rows['ours']['test_acc']:>10.4f}"
          f"{rows['ours']['train_seconds']:>10.0f}\nours is {ratio:.2f}x the plain loop's speed")
    report = {"date": stamp, "epochs": args.epochs, "ours_first": args.ours_first, "seed": args.seed,
              "threads": torch.get_num_threads(),
              "cpu_bf16": cpu_has_bf16(), "rows": rows, "speed_ratio": ratio}
    path = Path(args.out) / f"cifar_reference_{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
