"""Degradation: a deeper plain net trains worse than a shallower one, its residual twin better (He et al.,
2015, Figure 6).

Each plain net and its residual twin train with the same recipe, seed, data and data order through
:func:`resnets.train`, each in a run folder of its own under the study's folder (checkpoints, metrics,
curves). The training error is the running error of each epoch's batches, as the paper plots it; the
test error is measured after every epoch (no selection is made on it). An unfinished net resumes from its
last checkpoint and a finished one is read back, so the study can run in parts.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from resnets.lab.context import LabContext, make_context
from resnets.lab.nets import label, parse_depths, study_spec, twin_names
from resnets.lab.results import Figure, StudyResult, Table
from resnets.training import train
from resnets.training.checkpoint import LAST
from resnets.training.plots import pyplot, save_figure

QUICK = {"budget": 5, "limit": 5000, "overrides": {"batch_size": 64, "lr": 0.1}}
"""The quick scale: 5,000 training images (and at most 5,000 per other split), five epochs of batches of 64
(390 steps, as many as one epoch of CIFAR-10 at batch 128: degradation shows early, in the training error),
the peak learning rate halved with the batch."""
FULL = {"budget": None, "limit": None, "overrides": {}}
"""The full scale: all the data, the recipe's own length."""


def degradation(
    depths: str | list[int] = "20,56",
    *,
    recipe: str = "fast",
    budget: int | None = None,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
    progress: bool = True,
    **overrides: Any,
) -> StudyResult:
    """Train plain and residual nets of each depth and compare their errors (``resnets lab degradation``).

    Args:
        depths: CIFAR depths ``6n + 2``, e.g. ``"20,56"``.
        recipe: the training recipe for every net (default ``fast``: 9 epochs of one-cycle SGD).
        budget: epochs per net (default: the recipe's; quick: 6), the schedule rescaled to them.
        out, data, width, seed, quick, device: the lab's shared options (see :mod:`resnets.lab`).
        progress: progress bars while training.
        **overrides: training-config keys for every net (``batch_size=64``, ``precision="fp32"`` ...).
    """
    depth_list = parse_depths(depths)
    scale = QUICK if quick else FULL
    budget = budget if budget is not None else scale["budget"]
    if budget is not None and budget < 1:
        raise ValueError(f"--budget must be at least one epoch, not {budget}.")
    ctx = make_context("degradation", out=out, data=data, width=width, seed=seed, quick=quick, device=device,
                       options={"depths": depth_list, "recipe": recipe, "budget": budget})
    bundle = ctx.load(limit=scale["limit"])
    nets = []
    for name in twin_names(depth_list):
        spec = study_spec(name, width=ctx.width, num_classes=bundle.num_classes, input_size=bundle.input_size)
        nets.append(_train_one(spec, ctx, recipe=recipe, budget=budget, limit=scale["limit"], progress=progress,
                               overrides={**scale["overrides"], **overrides}))
    figure = plot_errors(nets, ctx.out / "degradation.png")
    result = StudyResult(
        study="degradation",
        title="Degradation: plain nets against their residual twins",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, recipe=recipe, epochs=nets[0]["epochs"]),
        settings={"depths": depth_list, "recipe": recipe, "budget": budget, "overrides": overrides,
                  "config": nets[0]["config"]},
        numbers={"nets": nets},
        tables=[_table(nets)],
        figures=[Figure(figure.name, "Training error (thin) and test error (bold) per epoch: plain nets (left), "
                                     "residual nets (right), as in the paper's Figure 6")],
        conclusions=conclusions(nets),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


def _train_one(spec: Any, ctx: LabContext, *, recipe: str, budget: int | None, limit: int | None, progress: bool,
               overrides: dict[str, Any]) -> dict[str, Any]:
    """Train one net in its own folder, resuming an unfinished run and reading back a finished one."""
    folder = ctx.out / spec.name
    done = folder / "result.json"
    if not done.is_file():
        options = dict(overrides)
        if budget is not None:
            options["epochs"] = budget
        if limit is not None:
            options["limit"] = limit
        train(spec, ctx.data, recipe=recipe, out=folder, resume=(folder / LAST).is_file(), seed=ctx.seed,
              device=str(ctx.device), test_each_epoch=True, progress=progress, **options)
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    summary = json.loads(done.read_text())
    config = {k: v for k, v in _config(folder).items() if k != "model_spec"}
    last = history[-1]
    return {
        "model": spec.name, "label": label(spec), "residual": spec.residual, "depth": spec.depth,
        "run": spec.name, "epochs": len(history),
        "epoch": [h["epoch"] for h in history], "step": [h["step"] for h in history],
        "train_err": [h["train_err"] for h in history], "test_err": [h.get("test_err") for h in history],
        "final_train_err": last["train_err"], "final_test_err": last.get("test_err"),
        "seconds": summary["train_seconds"], "config": config,
    }


def _config(folder: Path) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((folder / "config.yaml").read_text())


def plot_errors(nets: list[dict[str, Any]], path: Path) -> Path:
    """Error curves, plain nets left and residual nets right, one colour per depth (drawn from ``nets``)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    depths = sorted({n["depth"] for n in nets})
    colours = {d: plt.cm.viridis(i / max(len(depths) - 1, 1) * 0.85) for i, d in enumerate(depths)}
    for n in nets:
        ax = axes[1 if n["residual"] else 0]
        colour = colours[n["depth"]]
        ax.plot(n["epoch"], [100 * e for e in n["train_err"]], color=colour, linewidth=1, linestyle="--",
                label=f"{n['label']} train")
        if any(e is not None for e in n["test_err"]):
            ax.plot(n["epoch"], [100 * e if e is not None else float("nan") for e in n["test_err"]], color=colour,
                    linewidth=2.4, label=f"{n['label']} test")
    for ax, title in zip(axes, ("plain", "residual"), strict=True):
        ax.set_title(f"{title} nets")
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("error (%)")
    return save_figure(fig, path)


def _table(nets: list[dict[str, Any]]) -> Table:
    rows = [[n["label"], 100 * n["train_err"][0], 100 * n["final_train_err"],
             100 * n["final_test_err"] if n["final_test_err"] is not None else None, n["seconds"]] for n in nets]
    return Table("Errors (%)", ["net", "training error, epoch 1", "training error, last epoch",
                                "test error, last epoch", "seconds"], rows)


def conclusions(nets: list[dict[str, Any]]) -> list[str]:
    """What the errors show: deeper against shallower within each kind, and plain against residual."""
    out = []
    epochs = nets[0]["epochs"]
    for residual in (False, True):
        group = sorted((n for n in nets if n["residual"] == residual), key=lambda n: n["depth"])
        for shallow, deep in itertools.pairwise(group):
            a, b = shallow["final_train_err"], deep["final_train_err"]
            a1, b1 = shallow["train_err"][0], deep["train_err"][0]
            if b > a:
                verdict = (f"the deeper {deep['label']} trains worse than {shallow['label']}"
                           + (" - degradation, as in the paper's Figure 6 (left)." if not residual else
                              " - the residual nets did not show the paper's gain from depth at this budget."))
            else:
                verdict = (f"the deeper {deep['label']} trains better than {shallow['label']}"
                           + (" - depth helps, as in the paper's Figure 6 (right)." if residual else
                              " - no degradation at this budget and scale."))
            out.append(f"After {epochs} epochs, training error {100 * b:.1f}% for {deep['label']} against "
                       f"{100 * a:.1f}% for {shallow['label']} (after the first epoch: {100 * b1:.1f}% against "
                       f"{100 * a1:.1f}%): {verdict}")
            ta, tb = shallow["final_test_err"], deep["final_test_err"]
            if ta is not None and tb is not None:
                out.append(f"Test error: {100 * tb:.1f}% for {deep['label']}, {100 * ta:.1f}% for {shallow['label']}.")
    for n in (n for n in nets if not n["residual"]):
        twin = next((t for t in nets if t["residual"] and t["depth"] == n["depth"]), None)
        if twin is None:
            continue
        gap = 100 * (n["final_train_err"] - twin["final_train_err"])
        out.append(f"At depth {n['depth']}, the residual net ends {abs(gap):.1f} points "
                   f"{'lower' if gap > 0 else 'higher'} in training error than the plain net with the same layers "
                   f"({100 * twin['final_train_err']:.1f}% against {100 * n['final_train_err']:.1f}%).")
    return out
