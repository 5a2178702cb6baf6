"""SIGNS cross-validation: how a change to the `signs` recipe does on held-out training photos, never the test set.

The 1,080 training photos of the CS230 JPEG rendering (``train_signs`` + ``val_signs``) are split into five
class-stratified folds of 216 (seed 17; symlinks, no copies). Each run trains ``resnets train --recipe signs`` on
four folds (``train_on=train``, seed = fold, one thread) and is read on the fifth after its last epoch, once per
set of test-time views (``--tta``). Runs that finished before are reused, so an interrupted study resumes.

    .venv/bin/python benchmarks/signs_cv.py --data ../shared/data/signs --folds 0,1,2 --parallel 2 \\
        --variant signs= --variant wd05="weight_decay=0.05" --tta none,shift

A variant is ``NAME=KEY=VALUE[,KEY=VALUE...]`` (``--set`` overrides; empty for the recipe as shipped). The
figures of docs/training.md (mixup, CutMix, weight decay, stochastic depth, test-time views) came from this
procedure. A fold of a 22-epoch run takes about 10 minutes of one AVX2 core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from _workers import machine
from resnets.data.augment import TTA_MODES
from resnets.training import evaluate

HERE = Path(__file__).resolve().parent
PARTS = ("train_signs", "val_signs")


def make_folds(data: Path, root: Path, folds: int = 5, seed: int = 17) -> list[Path]:
    """``root/K/cs230_64x64/{train_signs,val_signs}`` for each fold K: symlinks to the photos, names kept."""
    source = data / "cs230_64x64"
    by_class: dict[str, list[Path]] = defaultdict(list)
    for part in PARTS:
        for path in sorted((source / part).glob("*.jpg")):
            by_class[path.name.split("_")[0]].append(path)
    rng = random.Random(seed)
    fold_of: dict[Path, int] = {}
    for _, paths in sorted(by_class.items()):
        rng.shuffle(paths)
        fold_of.update({path: i % folds for i, path in enumerate(paths)})
    roots = []
    for k in range(folds):
        fold = root / str(k)
        for part in PARTS:
            (fold / "cs230_64x64" / part).mkdir(parents=True, exist_ok=True)
        for path, home in fold_of.items():
            link = fold / "cs230_64x64" / ("val_signs" if home == k else "train_signs") / path.name
            if not link.is_symlink():
                link.symlink_to(path.resolve())
        roots.append(fold)
    return roots


def train_fold(fold: Path, k: int, overrides: list[str], out: Path) -> Path:
    if (out / "result.json").is_file():
        return out
    sets = [arg for item in overrides for arg in ("--set", item)]
    cmd = [sys.executable, "-m", "resnets", "train", "--recipe", "signs", "--data", f"signs:{fold}",
           "--set", "train_on=train", "--set", "threads=1", "--set", "tta=none", *sets,
           "--seed", str(k), "--no-progress", "--out", str(out)]
    with open(f"{out}.log", "w") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    if code:
        sys.exit(f"the run {out.name} failed (exit status {code}); its output is in {out}.log.")
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(Path(os.environ.get("RESNETS_DATA", "../shared/data")) / "signs"))
    p.add_argument("--folds", default="0,1,2,3,4")
    p.add_argument("--variant", action="append", default=[], help="NAME=KEY=VALUE[,KEY=VALUE...]")
    p.add_argument("--tta", default="none,shift", help=f"views to read each run with, of {', '.join(TTA_MODES)}")
    p.add_argument("--parallel", type=int, default=2, help="runs at a time (one thread each)")
    p.add_argument("--out", default=str(HERE / "results" / "signs-cv"))
    args = p.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not (data / "cs230_64x64" / "train_signs").is_dir():
        sys.exit(f"no CS230 JPEG rendering in {data}: pass --data DIR (the folder holding cs230_64x64/).")
    variants = {}
    for text in args.variant or ["signs="]:
        name, _, sets = text.partition("=")
        variants[name] = [s for s in sets.split(",") if s]
    views = args.tta.split(",")
    folds = [int(k) for k in args.folds.split(",")]
    roots = make_folds(data, out / "folds")
    jobs = [(name, k) for k in folds for name in variants]

    def run_job(job: tuple[str, int]) -> Path:
        name, k = job
        return train_fold(roots[k], k, variants[name], out / f"{name}-f{k}")

    with ThreadPoolExecutor(args.parallel) as pool:
        runs = dict(zip(jobs, pool.map(run_job, jobs), strict=True))
    errors: dict[str, dict[str, list[int]]] = {name: {v: [] for v in views} for name in variants}
    photos: dict[int, int] = {}
    for (name, k), run in runs.items():
        for view in views:
            result = evaluate(run / "last.safetensors", split="val", tta=view, out=run / f"eval-{view}")
            photos[k] = result.metrics.count
            errors[name][view].append(round((1 - result.metrics.top1) * result.metrics.count))
    print(f"\nvalidation errors on folds {folds} ({', '.join(str(photos[k]) for k in folds)} photos)")
    total = sum(photos.values())
    for name in variants:
        for view in views:
            counts = errors[name][view]
            print(f"{name:>12s}  tta {view:<10s} {' / '.join(map(str, counts))}  = {sum(counts)} / {total}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (HERE / "results").mkdir(exist_ok=True)
    record = {"machine": machine(), "folds": folds, "variants": variants, "errors": errors}
    (HERE / "results" / f"signs_cv_{stamp}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
