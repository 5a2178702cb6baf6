"""Figures a run leaves behind: learning curves and a confusion matrix (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write (PNG at 110 dpi) and close a figure; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def plot_curves(history: Sequence[dict[str, Any]], out: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, training against validation (and test where measured)."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, label, style in (("train_loss", "train", "-"), ("val_loss", "val", "--"), ("test_loss", "test", ":")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax_loss.plot(epochs, values, style, marker="o", ms=3, label=label)
    for key, label, style in (("train_acc", "train", "-"), ("val_acc", "val", "--"), ("test_acc", "test", ":")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax_acc.plot(epochs, values, style, marker="o", ms=3, label=label)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.01))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    save_figure(fig, out)
    return out


def plot_confusion(confusion: Sequence[Sequence[int]], classes: Sequence[str], out: Path, title: str = "") -> Path:
    """A confusion matrix with counts in the cells (rows: true class, columns: predicted)."""
    import numpy as np

    plt = pyplot()
    matrix = np.asarray(confusion)
    n = len(classes)
    size = min(14, 2.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    if n <= 30:
        ax.set_xticks(range(n), classes, rotation=90 if n > 10 else 0)
        ax.set_yticks(range(n), classes)
        limit = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > limit else "black")
    ax.set(xlabel="predicted", ylabel="true", title=title or "confusion matrix")
    save_figure(fig, out)
    return out
