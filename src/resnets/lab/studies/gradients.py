"""Gradient flow: per-layer gradient norms of plain nets against their residual twins.

At initialisation and after ``steps`` SGD steps on the same batches from the same initial weights, the norm
of the loss gradient of every convolution (and the classifier), layer by layer; and the first layers'
norms at every step (the course's figure of the early layers learning ever more slowly). With
``norm="none"`` the nets lose their BatchNorms and the BatchNorm nets are measured beside them: the
course's vanishing-gradient story (deep plain nets without normalisation) and the paper's remark (section
4.1: with BN, plain nets' gradients keep healthy norms, so their degradation is not vanishing gradients)
then stand side by side. Everything here runs in fp32: gradient norms are what is measured.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnets.lab.context import LabContext, make_context
from resnets.lab.fit import batch_stream
from resnets.lab.nets import label, parse_names
from resnets.lab.results import Figure, StudyResult, Table
from resnets.training.plots import pyplot, save_figure

QUICK = {"steps": 40, "limit": 4000}
FULL = {"steps": 200, "limit": None}
EARLY_LAYERS = 3
"""How many of the first layers the over-training figure follows."""


def gradients(
    models: str | list[str] = "plain56,resnet56",
    *,
    steps: int | None = None,
    norm: str = "bn",
    init: str = "auto",
    lr: float = 0.05,
    batch_size: int = 128,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
) -> StudyResult:
    """Measure gradient norms layer by layer (``resnets lab gradients``; module docstring).

    Args:
        models: nets to compare, e.g. ``"plain56,resnet56"`` (plain and residual twins pair by depth).
        steps: SGD steps after the initial measurement (quick: 40, full: 200).
        norm: ``bn`` (BatchNorm nets), or ``none``: BatchNorm-free nets measured beside the BatchNorm ones.
        init: the weight initialisation of every net: ``kaiming`` (He et al., the paper's), ``glorot``
            (Keras's default, the course's), or ``auto``: glorot with ``norm="none"``, kaiming otherwise.
            He initialisation was designed to keep plain nets' signals alive without BN, and with it a
            BatchNorm-free residual net's sum doubles its variance at every block; the course's story is
            told with Keras's initialisation.
        lr: SGD learning rate (momentum 0.9, no weight decay), constant.
        batch_size: images per step.
        out, data, width, seed, quick, device: the lab's shared options (see :mod:`resnets.lab`).
    """
    names = parse_names(models)
    if norm not in ("bn", "none"):
        raise ValueError(f"--norm must be bn or none, not {norm!r}.")
    if init == "auto":
        init = "glorot" if norm == "none" else "kaiming"
    if init not in ("kaiming", "glorot"):
        raise ValueError(f"--init must be kaiming, glorot or auto, not {init!r}.")
    scale = QUICK if quick else FULL
    steps = scale["steps"] if steps is None else steps
    if steps < 1:
        raise ValueError(f"--steps must be at least 1, not {steps}.")
    if lr <= 0:
        raise ValueError(f"--lr must be positive, not {lr}.")
    ctx = make_context("gradients", out=out, data=data, width=width, seed=seed, quick=quick, device=device,
                       precision="fp32",
                       options={"models": names, "steps": steps, "norm": norm, "init": init, "lr": lr,
                                "batch_size": batch_size})
    bundle = ctx.load(limit=scale["limit"])
    norms = ["none", "bn"] if norm == "none" else ["bn"]
    runs = [
        _measure(n, kind, ctx, bundle, init=init, steps=steps, lr=lr, batch_size=batch_size)
        for kind in norms for n in names
    ]
    pairs = _pairs(runs)
    figures = [
        _plot_layers(runs, "init", ctx.out / "gradients-init.png"),
        _plot_layers(runs, "after", ctx.out / "gradients-after.png"),
        _plot_early(runs, ctx.out / "gradients-early-layers.png"),
    ]
    result = StudyResult(
        study="gradients",
        title="Gradient flow: plain against residual, layer by layer",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, steps=steps, batch_size=batch_size),
        settings={"models": names, "norms": norms, "init": init, "steps": steps, "lr": lr, "momentum": 0.9,
                  "batch_size": batch_size, "precision": "fp32", "augment": "pad-4 crop + flip"},
        numbers={"runs": runs, "pairs": pairs},
        tables=[_table(runs)],
        figures=[
            Figure(figures[0].name, "Gradient norm of every layer's weights at initialisation (log scale), "
                                    "layer 1 next to the input"),
            Figure(figures[1].name, f"The same after {steps} SGD steps on the same batches"),
            Figure(figures[2].name, f"Gradient norms of the first {EARLY_LAYERS} layers at every training step"),
        ],
        conclusions=conclusions(runs, pairs, steps),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The weights whose gradients are measured, input to output: every convolution, then the classifier.
    Projection shortcuts (``downsample``) are left out: they are not layers of the plain twin."""
    return [(name, m.weight) for name, m in model.named_modules()
            if isinstance(m, nn.Conv2d | nn.Linear) and "downsample" not in name]


def _measure(name: str, norm: str, ctx: LabContext, bundle: Any, *, init: str, steps: int, lr: float,
             batch_size: int) -> dict[str, Any]:
    model = ctx.build(name, bundle, norm=norm, init=init).train()
    spec = model.spec
    layers = weight_layers(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    per_step: list[list[float]] = []
    losses: list[float] = []
    diverged_at = None
    stream = batch_stream(bundle, ctx.device, batch_size=batch_size, seed=ctx.seed)
    for step in range(steps + 1):
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norms = torch.stack([p.grad.norm() if p.grad is not None else torch.zeros(()) for _, p in layers])
        norms_list = norms.tolist()
        value = float(loss.detach())
        losses.append(value)
        per_step.append(norms_list)
        if not math.isfinite(value) or not all(math.isfinite(v) for v in norms_list):
            diverged_at = step
            break
        if step < steps:
            optimizer.step()
    names = [n for n, _ in layers]
    return {
        "model": name, "label": label(spec), "norm": norm, "residual": spec.residual, "depth": spec.depth,
        "layers": names, "init": per_step[0], "after": per_step[-1], "after_step": len(per_step) - 1,
        "early": {"layers": names[:EARLY_LAYERS], "norms": [s[:EARLY_LAYERS] for s in per_step]},
        "first_over_last": _ratio(per_step[0][0], per_step[0][-2] if len(per_step[0]) > 1 else per_step[0][0]),
        "loss": losses, "diverged_at": diverged_at,
    }


def _ratio(a: float, b: float) -> float | None:
    return a / b if b and math.isfinite(a) and math.isfinite(b) else None


def _pairs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain and residual nets of one depth and norm: the residual's first-layer gradient over the plain's."""
    pairs = []
    for r in runs:
        if r["residual"]:
            continue
        twin = next((t for t in runs if t["residual"] and t["depth"] == r["depth"] and t["norm"] == r["norm"]), None)
        if twin is None:
            continue
        pairs.append({
            "plain": r["model"], "residual": twin["model"], "norm": r["norm"],
            "first_layer_ratio_init": _ratio(twin["init"][0], r["init"][0]),
            "first_layer_ratio_after": _ratio(twin["after"][0], r["after"][0]),
        })
    return pairs


def _tag(run: dict[str, Any]) -> str:
    return f"{run['label']}{' (no BN)' if run['norm'] == 'none' else ''}"


def _panels(runs: list[dict[str, Any]]):
    norms = list(dict.fromkeys(r["norm"] for r in runs))
    plt = pyplot()
    fig, axes = plt.subplots(1, len(norms), figsize=(6.2 * len(norms), 4.2), squeeze=False)
    return fig, dict(zip(norms, axes[0], strict=True))


def _title(norm: str) -> str:
    return "without BatchNorm" if norm == "none" else "with BatchNorm"


def _plot_layers(runs: list[dict[str, Any]], moment: str, path: Path) -> Path:
    fig, axes = _panels(runs)
    for r in runs:
        values = [v if v and v > 0 else float("nan") for v in r[moment]]
        axes[r["norm"]].plot(range(1, len(values) + 1), values, marker=".", label=_tag(r),
                             linestyle="-" if r["residual"] else "--")
    for norm, ax in axes.items():
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = next to the input)")
        ax.set_ylabel("gradient norm ||dL/dW||")
        step = next((r["after_step"] for r in runs if r["norm"] == norm), 0)
        ax.set_title(f"{_title(norm)}: {'at initialisation' if moment == 'init' else f'after {step} steps'}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    return save_figure(fig, path)


def _plot_early(runs: list[dict[str, Any]], path: Path) -> Path:
    fig, axes = _panels(runs)
    for r in runs:
        series = list(zip(*r["early"]["norms"], strict=True))
        for i, values in enumerate(series):
            values = [v if v and v > 0 else float("nan") for v in values]
            axes[r["norm"]].plot(range(len(values)), values, linestyle="-" if r["residual"] else "--",
                                 alpha=1.0 - 0.25 * i, label=f"{_tag(r)}, layer {i + 1}")
    for norm, ax in axes.items():
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("gradient norm ||dL/dW||")
        ax.set_title(f"{_title(norm)}: the first layers over training")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def _table(runs: list[dict[str, Any]]) -> Table:
    rows = []
    for r in runs:
        rows.append([_tag(r), r["init"][0], r["init"][-1], r["first_over_last"], r["after"][0],
                     r["loss"][0], r["loss"][-1] if r["diverged_at"] is None else "diverged"])
    return Table("First-layer gradient norms and losses",
                 ["net", "layer 1 at init", "classifier at init", "layer 1 / last conv at init",
                  f"layer 1 after {runs[0]['after_step']} steps", "loss at init", "final loss"], rows)


def conclusions(runs: list[dict[str, Any]], pairs: list[dict[str, Any]], steps: int) -> list[str]:
    """Sentences the numbers support, each with its numbers."""
    out = []
    find = {(r["model"], r["norm"]): r for r in runs}
    for r in runs:
        if r["diverged_at"] is not None:
            out.append(f"{_tag(r)} diverged at step {r['diverged_at']} (a loss or gradient was not finite); "
                       "its later numbers are missing.")
    for p in pairs:
        plain, res = find[(p["plain"], p["norm"])], find[(p["residual"], p["norm"])]
        where = _title(p["norm"])
        where = where[0].upper() + where[1:]
        ratio = p["first_layer_ratio_init"]
        if ratio is not None:
            out.append(f"{where}, at initialisation the first layer of {res['label']} gets a gradient of norm "
                       f"{res['init'][0]:.3g} and that of {plain['label']} {plain['init'][0]:.3g}: "
                       f"{_times(ratio)} for the residual net.")
        for r in (plain, res):
            shrink = r["first_over_last"]
            if shrink is not None and not 0.1 <= shrink <= 10:
                way = "shrinks" if shrink < 0.1 else "grows"
                out.append(f"{where}, {r['label']}'s gradient {way} on its way down: the first layer's norm is "
                           f"{shrink:.3g} times the last convolution's.")
        for r in (plain, res):
            if r["diverged_at"] is None and r["init"][0] > 0 and r["after"][0] == 0:
                out.append(f"{where}, {r['label']}'s first layer gets no gradient at all after {r['after_step']} "
                           f"steps (loss {r['loss'][-1]:.3f}): its ReLUs have died and it has stopped learning.")
        if plain["diverged_at"] is None and res["diverged_at"] is None:
            ratio = p["first_layer_ratio_after"]
            out.append(f"{where}, after {plain['after_step']} steps the first layer's gradient norm is "
                       f"{plain['after'][0]:.3g} for {plain['label']} ({plain['after'][0] / plain['init'][0]:.3g}x its "
                       f"initial value) and {res['after'][0]:.3g} for {res['label']} "
                       f"({res['after'][0] / res['init'][0]:.3g}x)"
                       + (f"; the residual net's is {_times(ratio)}." if ratio is not None else "."))
            out.append(f"{where}, the training loss went from {plain['loss'][0]:.3f} to {plain['loss'][-1]:.3f} for "
                       f"{plain['label']} and from {res['loss'][0]:.3f} to {res['loss'][-1]:.3f} for "
                       f"{res['label']} in {steps} steps.")
    for p in (p for p in pairs if p["norm"] == "bn"):
        without = find.get((p["plain"], "none"))
        if without is None:
            continue
        with_bn = find[(p["plain"], "bn")]
        g_none, g_bn = without["init"][0], with_bn["init"][0]
        sentence = (f"Side by side, {with_bn['label']}'s first layer starts with a gradient of norm {g_none:.3g} "
                    f"without BatchNorm and {g_bn:.3g} with it")
        twin = find.get((p["residual"], "bn"))
        if g_none and g_bn / g_none > 100 and twin is not None and g_bn >= 0.1 * twin["init"][0]:
            sentence += (f" (ResNet's: {twin['init'][0]:.3g}). Without normalisation the deep plain net's gradient "
                         "vanishes; with BatchNorm it is as large as the residual net's or larger, so what makes "
                         "deep plain nets with BN train worse (lab degradation) is not vanishing gradients, as "
                         "the paper argues (section 4.1).")
        else:
            sentence += "."
        out.append(sentence)
    return out


def _times(ratio: float) -> str:
    if ratio == 0:
        return "zero"
    if 0.9 <= ratio <= 1.1:
        return "about the same"
    return f"{ratio:.3g} times as large" if ratio > 1 else f"{1 / ratio:.3g} times smaller"
