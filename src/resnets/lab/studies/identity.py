"""The identity argument: a deeper residual net can compute exactly what a shallower one computes.

The theory's nested function classes: if every function of the shallow class is also one of the deep class,
adding layers cannot make the best reachable function worse. A residual block with its last BatchNorm's
scale at zero (zero-init) adds ``F(x) = 0`` to its input and, after a ReLU of a non-negative input, is the
identity. So a deep net built from a shallow one - the same stem, the same first blocks of each stage, the
same head, the extra blocks zero-initialised - computes the shallow net's function exactly. The plain net
cannot do this with the same move: its zeroed block outputs zeros and the signal is lost. It holds the
identity only if every extra layer is set to it exactly (Dirac kernels, BatchNorm undone): the plain class
contains the shallow function too, but at a point of weight space that no initialisation or weight decay
leads to, while the residual form puts it at zero. Outputs are compared on real test images, in eval mode.

The shallow nets are trained briefly first (quick: 150 SGD steps, full: 600), so the function copied is a
real classifier, not a random net's nearly constant output; ``from_run`` copies the nets a ``lab
degradation`` run trained instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnets.blocks.residual import _ConvChain
from resnets.lab.context import LabContext, fixed_batches, make_context
from resnets.lab.fit import batch_stream, fit
from resnets.lab.nets import label, parse_depths, study_spec
from resnets.lab.results import Figure, StudyResult, Table
from resnets.lab.trained import find_runs
from resnets.models import build_model
from resnets.training.plots import pyplot, save_figure

QUICK = {"images": 500, "steps": 150, "limit": 4000}
FULL = {"images": 2000, "steps": 600, "limit": None}


def identity(
    depths: str | list[int] = "20,56",
    *,
    from_run: str | Path | None = None,
    steps: int | None = None,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
) -> StudyResult:
    """Build deeper nets that copy a shallower one and compare outputs (``resnets lab identity``).

    Args:
        depths: the shallowest is copied into each deeper one, e.g. ``"20,56"``.
        from_run: a ``lab degradation`` folder: copy its trained shallow nets instead of fresh ones.
        steps: SGD steps that train the shallow nets first (quick: 150, full: 600; ignored with ``from_run``).
        out, data, width, seed, quick, device: the lab's shared options (see :mod:`resnets.lab`).
    """
    depth_list = parse_depths(depths)
    if len(depth_list) < 2:
        raise ValueError("give a shallower and a deeper depth, e.g. --depths 20,56.")
    ctx = make_context("identity", out=out, data=data, width=width, seed=seed, quick=quick, device=device,
                       precision="fp32", options={"depths": depth_list, "from": from_run, "steps": steps})
    scale = QUICK if quick else FULL
    steps = scale["steps"] if steps is None else steps
    if steps < 0:
        raise ValueError(f"--steps must be 0 or more, not {steps}.")
    count = scale["images"]
    trained = find_runs(from_run) if from_run else {}
    bundle = ctx.load(limit=scale["limit"]) if not trained else next(iter(trained.values())).data()
    test = fixed_batches(bundle.test or bundle.val or bundle.train, bundle, ctx, count=count)
    shallow_depth, deeper = depth_list[0], depth_list[1:]
    comparisons = []
    for kind in ("resnet", "plain"):
        name = f"{kind}{shallow_depth}"
        if trained:
            if name not in trained:
                raise ValueError(f"{from_run} holds no trained {name}; run lab degradation with depth {shallow_depth}.")
            shallow = trained[name].model(ctx.device)
        else:
            shallow = _trained_briefly(name, ctx, bundle, steps)
        reference = _logits(shallow, test)
        for depth in deeper:
            for variant in VARIANTS[kind]:
                deep = grow(shallow, depth, variant, seed=ctx.seed)
                logits = _logits(deep, test)
                record = {"kind": kind, "shallow": label(shallow.spec), "deep": label(deep.spec), "depth": depth,
                          "variant": variant, "description": DESCRIPTIONS[variant],
                          "extra_blocks": len(extra_blocks(shallow, deep)), **_compare(reference, logits)}
                comparisons.append(record)
    figures = [plot_identity(comparisons, ctx.out / "identity.png")]
    result = StudyResult(
        study="identity",
        title="The identity argument: deeper residual nets contain the shallower ones",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, compared_images=sum(len(y) for _, y in test)),
        settings={"depths": depth_list, "from": str(from_run) if from_run else None,
                  "shallow nets": "trained by lab degradation" if trained else
                  f"trained here for {steps} SGD steps (lr 0.05 decayed linearly, batch 128)"},
        numbers={"comparisons": comparisons},
        tables=[_table(comparisons)],
        figures=[Figure(figures[0].name, "How far each deeper net's logits are from those of the shallow net it "
                                         "copies, on the test images (max |difference|, log scale; exact equality "
                                         "is drawn at the floor)")],
        conclusions=conclusions(comparisons),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


VARIANTS = {"resnet": ("zero", "default"), "plain": ("zero", "default", "dirac")}
DESCRIPTIONS = {
    "zero": "extra blocks zero-initialised (last BatchNorm scale 0)",
    "default": "extra blocks at their ordinary random initialisation",
    "dirac": "extra blocks set to the identity (Dirac kernels, BatchNorm undone)",
}


def _trained_briefly(name: str, ctx: LabContext, bundle: Any, steps: int) -> nn.Module:
    model = ctx.build(name, bundle)
    if steps:
        fit(model, batch_stream(bundle, ctx.device, batch_size=128, seed=ctx.seed), steps=steps)
    return model.eval()


def grow(shallow: nn.Module, depth: int, variant: str, *, seed: int = 0) -> nn.Module:
    """A deeper twin of ``shallow``: its stem, its blocks first in every stage, its head, and extra blocks
    after them made by ``variant`` (``zero``, ``default`` or ``dirac``; module docstring)."""
    spec = shallow.spec
    n_deep = (depth - 2) // 6
    deep_spec = study_spec(f"{'resnet' if spec.residual else 'plain'}{depth}", width=spec.stages[0].width,
                           num_classes=spec.head.classes, input_size=spec.input_size)
    if n_deep <= spec.stages[0].depth:
        raise ValueError(f"depth {depth} is not deeper than {shallow.spec.name}.")
    torch.manual_seed(seed + depth)
    deep = build_model(deep_spec).to(next(shallow.parameters()).device)
    own = shallow.state_dict()
    state = deep.state_dict()
    for key in state:
        parts = key.split(".")
        if parts[0].startswith("layer") and int(parts[1]) >= spec.stages[int(parts[0][5:]) - 1].depth:
            continue
        state[key] = own[key].clone()
    deep.load_state_dict(state)
    for block in extra_blocks(shallow, deep):
        if variant == "zero":
            nn.init.zeros_(block.last_norm.weight)
            nn.init.zeros_(block.last_norm.bias)
        elif variant == "dirac":
            _set_identity(block)
    return deep.eval()


def extra_blocks(shallow: nn.Module, deep: nn.Module) -> list[_ConvChain]:
    """The blocks of ``deep`` that ``shallow`` does not have."""
    out = []
    for i, stage in enumerate(shallow.spec.stages, 1):
        out += list(getattr(deep, f"layer{i}"))[stage.depth:]
    return out


@torch.no_grad()
def _set_identity(block: _ConvChain) -> None:
    """Every conv a Dirac kernel and every BatchNorm undone by its own running statistics: the identity
    on non-negative inputs (which a block of a post-activation net always gets)."""
    for i in range(1, block.depth + 1):
        nn.init.dirac_(getattr(block, f"conv{i}").weight)
        norm = getattr(block, f"bn{i}")
        if isinstance(norm, nn.BatchNorm2d):
            norm.weight.copy_(torch.sqrt(norm.running_var + norm.eps))
            norm.bias.copy_(norm.running_mean)


@torch.no_grad()
def _logits(model: nn.Module, batches: list) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x).float() for x, _ in batches])


def _compare(reference: torch.Tensor, logits: torch.Tensor) -> dict[str, Any]:
    diff = (logits - reference).abs()
    return {
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "relative_diff": float(diff.mean() / reference.abs().mean().clamp(min=1e-12)),
        "bitwise_equal": bool(torch.equal(logits, reference)),
        "agreement": float((logits.argmax(1) == reference.argmax(1)).float().mean()),
        "output_spread": float(logits.std(0).max()),
    }


FLOOR = 1e-10


def plot_identity(comparisons: list[dict[str, Any]], path: Path) -> Path:
    """Bars of max |logit difference| per deep variant (drawn from ``comparisons``)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4.2))
    labels = [f"{c['deep']}\n{c['variant']}" for c in comparisons]
    values = [max(c["max_abs_diff"], FLOOR) for c in comparisons]
    colours = ["#2f81f7" if c["kind"] == "resnet" else "#d1495b" for c in comparisons]
    ax.bar(range(len(labels)), values, color=colours)
    for i, c in enumerate(comparisons):
        ax.annotate("equal" if c["bitwise_equal"] else f"{c['max_abs_diff']:.2g}", (i, values[i]),
                    ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(FLOOR / 2, max(values) * 10)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("max |logits - shallow logits|")
    ax.set_title("Blue: residual, red: plain. Bars at the floor are exactly equal outputs.")
    ax.grid(True, axis="y", alpha=0.3)
    return save_figure(fig, path)


def _table(comparisons: list[dict[str, Any]]) -> Table:
    rows = [[f"{c['deep']} from {c['shallow']}", c["description"], c["max_abs_diff"], c["agreement"] * 100,
             "yes" if c["bitwise_equal"] else "no"] for c in comparisons]
    return Table("Deeper nets against the shallow net they copy", [
        "net", "extra blocks", "max |logit difference|", "same top-1 (%)", "bitwise equal"], rows)


def conclusions(comparisons: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in comparisons:
        what = f"{c['deep']} with {c['extra_blocks']} {c['description']}"
        if c["bitwise_equal"]:
            out.append(f"{what} computes exactly {c['shallow']}'s function: every logit on the test images is "
                       "bitwise equal.")
        elif c["max_abs_diff"] < 1e-4:
            out.append(f"{what} computes {c['shallow']}'s function up to rounding (max |difference| "
                       f"{c['max_abs_diff']:.2g}, same top-1 on {100 * c['agreement']:.1f}% of the images).")
        else:
            constant = c["output_spread"] < 1e-6
            out.append(f"{what} computes another function: max |difference| {c['max_abs_diff']:.3g}, the same top-1 "
                       f"on {100 * c['agreement']:.1f}% of the images"
                       + (" - its output is the same for every image: the zeroed blocks cut the signal." if constant
                          else "."))
    exact_res = any(c["kind"] == "resnet" and c["variant"] == "zero" and c["bitwise_equal"] for c in comparisons)
    lost_plain = any(c["kind"] == "plain" and c["variant"] == "zero" and not c["bitwise_equal"] for c in comparisons)
    dirac = [c for c in comparisons if c["kind"] == "plain" and c["variant"] == "dirac"]
    if exact_res and lost_plain:
        held = dirac and all(c["max_abs_diff"] < 1e-4 for c in dirac)
        out.append("So the deeper residual net contains the shallower one at the simplest point of its weights: "
                   "extra branches at zero. The same zeros break the plain net"
                   + ("; it holds the shallow function only when every extra layer is set to an exact identity, a "
                      "point no initialisation or weight decay leads to." if held else "."))
    return out
