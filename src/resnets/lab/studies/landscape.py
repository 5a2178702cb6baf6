"""Loss landscapes: the loss around trained weights along two random directions (Li et al., 2018,
"Visualizing the Loss Landscape of Neural Nets", Figure 5).

``L(a, b) = loss(theta + a d1 + b d2)`` on a grid of ``a, b`` in [-1, 1], on a fixed subset of training
images, in eval mode (the trained BatchNorm statistics). The directions are Gaussian and filter-normalised:
each filter of ``d`` is rescaled to the norm of the same filter of ``theta``, so a step of 1 is as large as
the weights for every filter whatever its scale; BatchNorm parameters and biases get no direction (the
paper's "ignore biasbn"). Li et al. found plain nets' surfaces turn chaotic with depth while residual
nets' stay smooth and nearly convex; here that is measured as the share of interior grid points where the
surface curves upward and the number of local minima on the grid, as well as drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnets.lab.context import fixed_batches, make_context
from resnets.lab.nets import label
from resnets.lab.results import Figure, StudyResult, Table
from resnets.lab.trained import find_runs
from resnets.training.plots import pyplot, save_figure

QUICK = {"grid": 11, "images": 256}
FULL = {"grid": 21, "images": 512}


def landscape(
    from_run: str | Path,
    *,
    grid: int | None = None,
    images: int | None = None,
    span: float = 1.0,
    out: str | Path | None = None,
    data: str | None = None,
    width: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
    precision: str = "auto",
) -> StudyResult:
    """Map the loss around each trained net's weights (``resnets lab landscape``; module docstring).

    Args:
        from_run: a ``lab degradation`` folder (or one run folder).
        grid: points per axis (quick: 11, full: 21).
        images: training images the loss is measured on (quick: 256, full: 512).
        span: the grid covers ``[-span, span]`` along each direction.
        precision: ``auto`` (bf16 where the hardware has it: the surface, not its last digit, is the point)
            or ``fp32``.
        out, seed, quick, device: the lab's shared options; ``data`` and ``width`` are the nets' own.
    """
    if data or width:
        raise ValueError("lab landscape maps the trained nets of --from on their own data and width; "
                         "drop --data and --width.")
    scale = QUICK if quick else FULL
    grid = grid or scale["grid"]
    if grid < 3:
        raise ValueError(f"--grid needs at least 3 points per axis, not {grid}.")
    if span <= 0:
        raise ValueError(f"--span must be positive, not {span}.")
    runs = find_runs(from_run)
    ctx = make_context("landscape", out=out, data=None, width=None, seed=seed, quick=quick, device=device,
                       precision=precision, options={"from": from_run, "grid": grid, "images": images},
                       trained_nets=True)
    count = images or scale["images"]
    bundle = next(iter(runs.values())).data()
    batches = fixed_batches(bundle.train, bundle, ctx, count=count, batch_size=256, shuffle=True)
    coords = torch.linspace(-span, span, grid).tolist()
    surfaces = []
    for name, run in runs.items():
        model = run.model(ctx.device)
        losses = loss_surface(model, batches, coords, seed=ctx.seed, autocast=ctx.runtime.autocast)
        surfaces.append({"model": name, "label": label(model.spec), "residual": model.spec.residual,
                         "depth": model.spec.depth, "loss": losses, **shape_measures(losses)})
    surfaces.sort(key=lambda s: (s["depth"], s["residual"]))
    figures = [plot_contours(surfaces, coords, ctx.out / "landscape-contours.png"),
               plot_surfaces(surfaces, coords, ctx.out / "landscape-surfaces.png")]
    result = StudyResult(
        study="landscape",
        title="Loss landscapes: plain against residual",
        command=ctx.command_line(),
        scale=ctx.scale(bundle, grid=grid, measured_images=sum(len(y) for _, y in batches)),
        settings={"from": str(from_run), "grid": grid, "span": span, "directions": "Gaussian, filter-normalised, "
                  "none for BatchNorm parameters and biases", "mode": "eval (trained BatchNorm statistics)"},
        numbers={"coords": coords, "surfaces": surfaces},
        tables=[_table(surfaces)],
        figures=[Figure(figures[0].name, "Contours of the training loss around the trained weights (centre) "
                                         "along two filter-normalised random directions"),
                 Figure(figures[1].name, "The same surfaces in 3-D (loss clipped at 3x the centre's + 5 for "
                                         "legibility; the numbers are unclipped)")],
        conclusions=conclusions(surfaces),
    )
    result.seconds = ctx.seconds()
    result.write(ctx.out)
    return result


def filter_normalised_direction(model: nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A Gaussian direction with each filter scaled to its weight's filter norm; none for 1-D parameters."""
    direction = {}
    for name, p in model.named_parameters():
        if p.ndim <= 1:
            continue
        d = torch.randn(p.shape, generator=generator).to(p.device)
        dims = tuple(range(1, p.ndim))
        norm = torch.linalg.vector_norm
        d *= norm(p.detach(), dim=dims, keepdim=True) / norm(d, dim=dims, keepdim=True).clamp(min=1e-12)
        direction[name] = d
    return direction


@torch.no_grad()
def loss_surface(model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]], coords: list[float], *,
                 seed: int, autocast: Any) -> list[list[float]]:
    """``loss[i][j]`` at ``theta + coords[i] d1 + coords[j] d2`` (module docstring); the model is restored."""
    g = torch.Generator().manual_seed(seed)
    d1 = filter_normalised_direction(model, g)
    d2 = filter_normalised_direction(model, g)
    params = dict(model.named_parameters())
    theta = {k: params[k].detach().clone() for k in d1}
    model.eval()
    rows = []
    try:
        for a in coords:
            row = []
            for b in coords:
                for k, w in theta.items():
                    params[k].copy_(w + a * d1[k] + b * d2[k])
                total, n = 0.0, 0
                for x, y in batches:
                    with autocast():
                        logits = model(x)
                    total += float(F.cross_entropy(logits.float(), y, reduction="sum"))
                    n += len(y)
                row.append(total / n)
            rows.append(row)
    finally:
        for k, w in theta.items():
            params[k].copy_(w)
    return rows


def shape_measures(loss: list[list[float]]) -> dict[str, Any]:
    """How convex and how chaotic a grid surface is: the share of interior points where the discrete
    Laplacian is positive (the surface curves upward), the number of strict local minima among the 8
    neighbours, and the rise from the centre to the border."""
    z = torch.tensor(loss, dtype=torch.float64)
    z = torch.nan_to_num(z, nan=float("inf"))
    inner = z[1:-1, 1:-1]
    laplace = z[2:, 1:-1] + z[:-2, 1:-1] + z[1:-1, 2:] + z[1:-1, :-2] - 4 * inner
    neighbours = torch.stack([z[1 + di:z.shape[0] - 1 + di, 1 + dj:z.shape[1] - 1 + dj]
                              for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj])
    minima = int((inner < neighbours.min(0).values).sum())
    c = z.shape[0] // 2
    border = torch.cat([z[0], z[-1], z[1:-1, 0], z[1:-1, -1]])
    return {"convex_fraction": float((laplace > 0).double().mean()), "local_minima": minima,
            "centre_loss": float(z[c, c]), "border_mean_loss": float(border[border.isfinite()].mean()),
            "min_loss": float(z.min()), "max_loss": float(z[z.isfinite()].max())}


def plot_contours(surfaces: list[dict[str, Any]], coords: list[float], path: Path) -> Path:
    plt = pyplot()
    cols = len(surfaces)
    fig, axes = plt.subplots(1, cols, figsize=(4.2 * cols, 4), squeeze=False)
    for ax, s in zip(axes[0], surfaces, strict=True):
        z = torch.tensor(s["loss"]).nan_to_num(nan=float("inf")).clamp(max=1e4).numpy()
        levels = sorted({float(v) for v in torch.linspace(float(z.min()), min(float(z.max()), 5 * float(z.min()) + 5),
                                                            20)})
        contours = ax.contour(coords, coords, z.T, levels=levels if len(levels) > 1 else 10, cmap="viridis")
        ax.clabel(contours, fontsize=6, fmt="%.2g")
        ax.plot([0], [0], "r+")
        ax.set_title(f"{s['label']}: {100 * s['convex_fraction']:.0f}% convex, {s['local_minima']} minima",
                     fontsize=9)
        ax.set_aspect("equal")
    return save_figure(fig, path)


def plot_surfaces(surfaces: list[dict[str, Any]], coords: list[float], path: Path) -> Path:
    plt = pyplot()
    cols = len(surfaces)
    fig = plt.figure(figsize=(4.4 * cols, 4))
    xs = torch.tensor(coords)
    a, b = torch.meshgrid(xs, xs, indexing="ij")
    for i, s in enumerate(surfaces, 1):
        ax = fig.add_subplot(1, cols, i, projection="3d")
        z = torch.tensor(s["loss"]).nan_to_num(nan=float("inf"))
        z = z.clamp(max=3 * s["centre_loss"] + 5)
        ax.plot_surface(a.numpy(), b.numpy(), z.numpy(), cmap="viridis", linewidth=0, antialiased=True)
        ax.set_title(s["label"], fontsize=9)
        ax.set_zlabel("loss")
    return save_figure(fig, path)


def _table(surfaces: list[dict[str, Any]]) -> Table:
    rows = [[s["label"], s["centre_loss"], s["border_mean_loss"], s["max_loss"], 100 * s["convex_fraction"],
             s["local_minima"]] for s in surfaces]
    return Table("Surface measures", ["net", "loss at the centre", "mean loss on the border", "largest loss",
                                      "convex interior points (%)", "local minima"], rows)


def conclusions(surfaces: list[dict[str, Any]]) -> list[str]:
    out = []
    for s in surfaces:
        out.append(f"{s['label']}: loss {s['centre_loss']:.3g} at the trained weights, {s['border_mean_loss']:.3g} on "
                   f"average at the border; the surface curves upward at {100 * s['convex_fraction']:.0f}% of the "
                   f"interior points and has {s['local_minima']} local minima on the grid.")
    for p in (s for s in surfaces if not s["residual"]):
        twin = next((t for t in surfaces if t["residual"] and t["depth"] == p["depth"]), None)
        if twin is None:
            continue
        smoother = twin["convex_fraction"] > p["convex_fraction"] or twin["local_minima"] < p["local_minima"]
        out.append(f"At depth {p['depth']}, {twin['label']}'s surface is "
                   + ("smoother and more nearly convex than " if smoother else "no smoother than ")
                   + f"{p['label']}'s ({100 * twin['convex_fraction']:.0f}% against {100 * p['convex_fraction']:.0f}% "
                   f"convex points, {twin['local_minima']} against {p['local_minima']} local minima)"
                   + (", as Li et al. show for skip connections." if smoother else
                      ": not Li et al.'s contrast at this scale."))
    return out
