"""Lesions: delete one block at a time from trained nets, at test time, and measure test accuracy (Veit et
al., 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow Networks", Figure 3).

A residual block loses its residual branch and keeps its shortcut, so the net still runs with one path
fewer; a plain block is removed outright (the identity in its place), and where it changed the shape its
place is taken by option A's parameter-free zero-pad subsample, the nearest thing to nothing that fits.
Veit et al. found residual nets degrade gracefully - most single deletions barely matter - while deleting
any layer of a plain net drops it to chance. Evaluation only; nothing is trained.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnets.blocks.residual import PreActBlock, _ConvChain
from resnets.blocks.shortcuts import ZeroPadShortcut
from resnets.lab.context import fixed_batches, make_context
from resnets.lab.nets import label
from resnets.lab.results import Figure, StudyResult, Table
from resnets.lab.trained import find_runs
from resnets.training.plots import pyplot, save_figure

QUICK = {"images": 1000}
FULL = {"images": 10000}


def lesion(
    from_run: str | Path,
    *,
    images: int | None = None,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
) -> StudyResult:
    """Delete each block of each trained net in turn and evaluate (``resnets lab lesion``).

    Args:
        from_run: a ``lab degradation`` folder (or one run folder).
        images: test images to evaluate on (quick: 1,000; full: up to 10,000).
        out, seed, quick, device: the lab's shared options; ``data`` and ``width`` are the trained nets' own
            (taken from their run) and must not be given.
    """
    if data or width:
        raise ValueError("lab lesion evaluates the trained nets of --from on their own data and width; "
                         "drop --data and --width.")
    runs = find_runs(from_run)
    ctx = make_context("lesion", out=out, data=None, width=None, seed=seed, quick=quick, device=device,
                       precision="fp32", options={"from": from_run, "images": images}, trained_nets=True)
    count = images or (QUICK if quick else FULL)["images"]
    bundle = next(iter(runs.values())).data()
    test = fixed_batches(bundle.test or bundle.val, bundle, ctx, count=count, batch_size=256)
    nets = []
    for name, run in runs.items():
        model = run.model(ctx.device)
        blocks = [b for b in model.modules() if isinstance(b, _ConvChain)]
        baseline = accuracy(model, test)
        deleted = []
        for block in blocks:
            with removed(block):
                deleted.append(accuracy(model, test))
        nets.append({"model": name, "label": label(model.spec), "residual": model.spec.residual,
                     "depth": model.spec.depth, "baseline": baseline, "deleted": deleted,
                     "blocks": [n for n, m in model.named_modules() if isinstance(m, _ConvChain)],
                     "downsampling": [int(b.stride > 1 or b.in_channels != b.out_channels) for b in blocks]})
    nets.sort(key=lambda n: (n["depth"], n["residual"]))
    chance = 1 / bundle.num_classes
    figure = plot_lesions(nets, chance, ctx.out / "lesion.png")
    result = StudyResult(
        study="lesion",
        title="Lesions: deleting one block at a time",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, evaluated_images=sum(len(y) for _, y in test)),
        settings={"from": str(from_run), "residual blocks": "residual branch removed, shortcut kept",
                  "plain blocks": "replaced by the identity (option A's zero-pad subsample where the shape changes)"},
        numbers={"nets": nets, "chance": chance},
        tables=[_table(nets, chance)],
        figures=[Figure(figure.name, "Test accuracy with one block deleted, by block; dashed: the intact net; "
                                     "dotted: chance; hollow markers: blocks that change the shape")],
        conclusions=conclusions(nets, chance),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


@torch.no_grad()
def accuracy(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    model.eval()
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in batches)
    return correct / sum(len(y) for _, y in batches)


@contextmanager
def removed(block: _ConvChain) -> Iterator[None]:
    """``block`` without its residual branch (residual) or without itself (plain), for the duration."""
    if block.residual:
        if isinstance(block, PreActBlock) and block._project_preact:
            def skip(x: torch.Tensor) -> torch.Tensor:
                return block.downsample(block.act1(block.bn1(x)))
        else:
            def skip(x: torch.Tensor) -> torch.Tensor:
                return x if block.downsample is None else block.downsample(x)
    else:
        bridge = ZeroPadShortcut(block.in_channels, block.out_channels, block.stride) \
            if block.stride > 1 or block.in_channels != block.out_channels else nn.Identity()

        def skip(x: torch.Tensor) -> torch.Tensor:
            return bridge(x)
    block.forward = skip  # type: ignore[method-assign]
    try:
        yield
    finally:
        del block.forward


def plot_lesions(nets: list[dict[str, Any]], chance: float, path: Path) -> Path:
    """Accuracy against the block deleted, one line per net (drawn from ``nets``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.4))
    for n in nets:
        xs = list(range(1, len(n["deleted"]) + 1))
        line, = ax.plot(xs, [100 * a for a in n["deleted"]], "-" if n["residual"] else "--", marker="o",
                        markersize=4, label=n["label"])
        down = [i for i, d in enumerate(n["downsampling"]) if d]
        ax.plot([xs[i] for i in down], [100 * n["deleted"][i] for i in down], "o", markersize=7,
                markerfacecolor="white", color=line.get_color())
        ax.axhline(100 * n["baseline"], color=line.get_color(), linestyle=":", linewidth=1)
    ax.axhline(100 * chance, color="grey", linestyle=(0, (1, 3)), label="chance")
    ax.set_xlabel("block deleted")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _table(nets: list[dict[str, Any]], chance: float) -> Table:
    rows = []
    for n in nets:
        kept = [a for a, d in zip(n["deleted"], n["downsampling"], strict=True) if not d]
        rows.append([n["label"], 100 * n["baseline"], 100 * _mean(n["deleted"]), 100 * min(n["deleted"]),
                     100 * _mean(kept) if kept else None,
                     sum(a <= chance + 0.05 for a in n["deleted"])])
    return Table("Test accuracy (%) with one block deleted", [
        "net", "intact", "mean over deletions", "worst deletion", "mean, shape-keeping blocks",
        "deletions at chance (+5 points)"], rows)


def conclusions(nets: list[dict[str, Any]], chance: float) -> list[str]:
    out = []
    untrained = {n["model"] for n in nets if n["baseline"] <= chance + 0.05}
    for n in nets:
        if n["model"] in untrained:
            out.append(f"{n['label']} is at chance intact ({100 * n['baseline']:.1f}%, chance {100 * chance:.0f}%): "
                       "it never learned, so deleting its blocks shows nothing.")
            continue
        drops = [n["baseline"] - a for a in n["deleted"]]
        small = sum(d < 0.05 for d in drops)
        at_chance = sum(a <= chance + 0.05 for a in n["deleted"])
        out.append(f"{n['label']} (intact: {100 * n['baseline']:.1f}%): deleting one of its {len(drops)} blocks costs "
                   f"{100 * _mean(drops):.1f} points on average; {small} of the deletions cost under 5 points and "
                   f"{at_chance} leave it within 5 points of chance ({100 * chance:.0f}%).")
    for n in (n for n in nets if not n["residual"]):
        twin = next((t for t in nets if t["residual"] and t["depth"] == n["depth"]), None)
        if twin is None or {n["model"], twin["model"]} & untrained:
            continue
        res_mean, plain_mean = _mean(twin["deleted"]), _mean(n["deleted"])
        graceful = res_mean > plain_mean
        out.append(f"At depth {n['depth']} a single deletion leaves {twin['label']} at {100 * res_mean:.1f}% on "
                   f"average and {n['label']} at {100 * plain_mean:.1f}%: "
                   + ("the residual net degrades gracefully while the plain net breaks, as Veit et al. found - "
                      "its blocks are many paths, not one chain." if graceful else
                      "the plain net survives deletions as well or better here, unlike Veit et al.'s result."))
    return out
