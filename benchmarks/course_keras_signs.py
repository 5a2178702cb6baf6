"""The course's own Keras ResNet50 trained the course's way on SIGNS, to set beside ``--recipe course``.

Run with the TensorFlow venv's python (``benchmarks/setup_peers.sh``):

    ../peers/tf-venv/bin/python benchmarks/course_keras_signs.py --data ../shared/data/signs --seeds 0,1,2

The course's notebook: ``model.fit(X_train, Y_train, epochs=10, batch_size=32)`` with Adam(1e-3) and
categorical cross-entropy on X / 255, then ``model.evaluate(X_test, Y_test)``. The official
``train_signs.h5`` could not be obtained, so training reads the same 1,080 photos from the CS230 JPEG
rendering (train + val), as ``resnets train --recipe course`` does; the test set is the official
``test_signs.h5``. Prints per-epoch training accuracy and the test accuracy, and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _keras_worker import course_resnet50


def load(root: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    files = sorted(p for sub in ("train_signs", "val_signs") for p in (root / "cs230_64x64" / sub).iterdir())
    x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((64, 64))) for p in files])
    y = np.array([int(p.name.split("_")[0]) for p in files])
    with h5py.File(root / "test_signs.h5", "r") as f:
        xt, yt = np.asarray(f["test_set_x"]), np.asarray(f["test_set_y"]).reshape(-1)
    return x, y, xt, yt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/signs"))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/course_keras_signs.json"))
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    x, y, xt, yt = load(args.data)
    x, xt = x.astype("float32") / 255, xt.astype("float32") / 255
    onehot, onehot_t = np.eye(6, dtype="float32")[y], np.eye(6, dtype="float32")[yt]
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        keras.utils.set_random_seed(seed)
        model = course_resnet50(keras)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(x, onehot, epochs=args.epochs, batch_size=32, verbose=2)
        seconds = time.perf_counter() - start
        loss, acc = model.evaluate(xt, onehot_t, verbose=0)
        run = {"seed": seed, "train_acc": history.history["accuracy"], "test_loss": loss, "test_acc": acc,
               "seconds": seconds}
        print(f"seed {seed}: last-epoch train acc {run['train_acc'][-1]:.4f}, test acc {acc:.4f} "
              f"({round(acc * len(yt))}/{len(yt)}), {seconds:.0f} s")
        runs.append(run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tensorflow": tf.__version__, "keras": keras.__version__, "train_images": len(y),
                                    "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
