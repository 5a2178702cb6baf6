"""Layer responses: the standard deviation of every 3x3 layer's output after BatchNorm, before the ReLU or
the addition (He et al., 2015, Figure 7).

The paper's reading: residual functions are generally closer to zero than the unreferenced functions of a
plain net, so their responses are smaller, and the deeper the ResNet the smaller each layer's response.
Measured on test images in eval mode: per channel over images and positions, averaged over channels, layer
by layer in forward order, and the same values sorted. Fresh nets (no ``from_run``) have their BatchNorm
statistics estimated on training images first; their responses then sit at BatchNorm's initial scale of
1 everywhere, which is the point of comparison: whatever differs after training was learned.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnets.lab.context import fixed_batches, make_context
from resnets.lab.nets import label, parse_depths, twin_names
from resnets.lab.results import Figure, StudyResult, Table
from resnets.lab.trained import find_runs
from resnets.training.batchnorm import recalibrate_bn
from resnets.training.plots import pyplot, save_figure

QUICK = {"images": 500, "limit": 3000}
FULL = {"images": 2000, "limit": None}


def responses(
    depths: str | list[int] = "20,56",
    *,
    from_run: str | Path | None = None,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
) -> StudyResult:
    """Measure layer responses of plain and residual nets (``resnets lab responses``; module docstring).

    Args:
        depths: the depths of fresh nets to measure (ignored with ``from_run``).
        from_run: a ``lab degradation`` folder (or one run folder): measure the nets it trained.
        out, data, width, seed, quick, device: the lab's shared options (see :mod:`resnets.lab`).
    """
    scale = QUICK if quick else FULL
    depth_list = parse_depths(depths)
    ctx = make_context("responses", out=out, data=data, width=width, seed=seed, quick=quick, device=device,
                       precision="fp32", options={"depths": None if from_run else depth_list, "from": from_run})
    nets: list[tuple[str, nn.Module]] = []
    if from_run:
        runs = find_runs(from_run)
        bundle = next(iter(runs.values())).data()
        nets = [(name, run.model(ctx.device)) for name, run in runs.items()]
    else:
        bundle = ctx.load(limit=scale["limit"])
        calib = fixed_batches(bundle.train, bundle, ctx, count=1024, shuffle=True)
        for name in twin_names(depth_list):
            model = ctx.build(name, bundle)
            recalibrate_bn(model, calib, len(calib), ctx.runtime)
            nets.append((name, model.eval()))
    images = fixed_batches(bundle.test or bundle.val or bundle.train, bundle, ctx, count=scale["images"])
    measured = [{"model": name, "label": label(model.spec), "residual": model.spec.residual,
                 "depth": model.spec.depth, **layer_responses(model, images)} for name, model in nets]
    measured.sort(key=lambda m: (m["residual"], m["depth"]))
    figure = plot_responses(measured, ctx.out / "responses.png")
    result = StudyResult(
        study="responses",
        title="Layer responses: how far each layer moves its input",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, measured_images=sum(len(y) for _, y in images), trained=bool(from_run)),
        settings={"from": str(from_run) if from_run else None, "depths": None if from_run else depth_list,
                  "nets": "trained" if from_run else "freshly initialised (BatchNorm statistics from 1,024 "
                                                     "training images)",
                  "measure": "std per channel over images and positions, averaged over channels"},
        numbers={"nets": measured},
        tables=[_table(measured)],
        figures=[Figure(figure.name, "Standard deviation of each 3x3 layer's response (after BN, before ReLU or "
                                     "addition): top, in layer order; bottom, sorted in descending order "
                                     "(the paper's Figure 7)")],
        conclusions=conclusions(measured, trained=bool(from_run)),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


def response_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The norm after every 3x3 convolution of the stem and the blocks, in forward order (a net without
    norms: the convolutions themselves). Shortcut projections are not layers of the plain twin."""
    norms = [(n, m) for n, m in model.named_modules()
             if isinstance(m, nn.BatchNorm2d | nn.GroupNorm) and "downsample" not in n]
    if norms:
        return norms
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and "downsample" not in n]


@torch.no_grad()
def layer_responses(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
    """Per-layer response std (module docstring) of ``model`` over ``batches``; model in eval mode."""
    layers = response_layers(model)
    sums: dict[str, list[torch.Tensor]] = {}

    def hook(name: str):
        def record(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
            y = output.detach().double()
            stats = torch.stack([y.sum((0, 2, 3)), (y * y).sum((0, 2, 3)),
                                 torch.full((y.shape[1],), float(y.numel() // y.shape[1]), dtype=y.dtype,
                                            device=y.device)])
            if name in sums:
                sums[name][0] += stats
            else:
                sums[name] = [stats]
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in layers]
    model.eval()
    try:
        for x, _ in batches:
            model(x)
    finally:
        for h in handles:
            h.remove()
    stds = []
    for name, _ in layers:
        s, ss, n = sums[name][0]
        var = (ss / n - (s / n) ** 2).clamp(min=0)
        stds.append(float(var.sqrt().mean()))
    return {"layers": [n for n, _ in layers], "std": stds, "sorted": sorted(stds, reverse=True),
            "mean_std": sum(stds) / len(stds)}


def plot_responses(measured: list[dict[str, Any]], path: Path) -> Path:
    """The paper's Figure 7 from ``measured``: responses by layer index, then sorted."""
    plt = pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7))
    for m in measured:
        style = "-" if m["residual"] else "--"
        top.plot(range(1, len(m["std"]) + 1), m["std"], style, marker=".", markersize=3, label=m["label"])
        bottom.plot(range(1, len(m["sorted"]) + 1), m["sorted"], style, label=m["label"])
    top.set_xlabel("layer index (original)")
    bottom.set_xlabel("layer index (sorted by magnitude)")
    for ax in (top, bottom):
        ax.set_ylabel("std")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def _table(measured: list[dict[str, Any]]) -> Table:
    rows = [[m["label"], len(m["std"]), m["mean_std"], max(m["std"]), min(m["std"])] for m in measured]
    return Table("Response std per net", ["net", "layers", "mean std", "largest", "smallest"], rows)


def conclusions(measured: list[dict[str, Any]], *, trained: bool) -> list[str]:
    out = []
    if not trained:
        spread = max(abs(s - 1) for m in measured for s in m["std"])
        out.append(f"Freshly initialised, every response has a std within {spread:.2g} of 1 (BatchNorm's initial "
                   "scale) in every net: nothing distinguishes plain from residual yet. Train them (`resnets lab "
                   "degradation`) and pass its folder with --from to see what training makes of them.")
    for m in (m for m in measured if not m["residual"]):
        twin = next((t for t in measured if t["residual"] and t["depth"] == m["depth"]), None)
        if twin is None:
            continue
        smaller = twin["mean_std"] < m["mean_std"]
        out.append(f"At depth {m['depth']}, the mean response std is {twin['mean_std']:.3g} for {twin['label']} "
                   f"against {m['mean_std']:.3g} for {m['label']}: the residual net's layers respond "
                   + ("less, as in the paper's Figure 7: its residual functions stay closer to zero."
                      if smaller else "as much or more - not the paper's Figure 7 at this scale."))
    residual = sorted((m for m in measured if m["residual"]), key=lambda m: m["depth"])
    for shallow, deep in itertools.pairwise(residual):
        out.append(f"{deep['label']}'s mean response std is {deep['mean_std']:.3g}, {shallow['label']}'s "
                   f"{shallow['mean_std']:.3g}: the deeper residual net's layers change the signal "
                   + ("less each, as the paper observes." if deep["mean_std"] < shallow["mean_std"] else
                      "as much or more each, unlike the paper's observation."))
    return out
