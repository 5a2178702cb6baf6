"""``diagram()``: a block diagram of a model (stem, stages, blocks, shortcuts, shapes), like Keras's
``plot_model``, as SVG, PNG or PDF.

Drawn with matplotlib, already a dependency, rather than graphviz/torchview: those need Graphviz's ``dot``
binary from the system, and a diagram of a ResNet is a column of boxes with shortcut arcs beside them,
which needs no graph layout engine. Shapes come from a forward pass on the ``meta`` device (free).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from resnets.blocks import Inception, Subsample, ZeroPadShortcut
from resnets.blocks.residual import PreActBlock, _ConvChain
from resnets.errors import ResnetsError
from resnets.models import Network, create_model, get_spec

_FORMATS = (".svg", ".png", ".pdf")


@dataclass
class _Node:
    title: str
    detail: str
    shape: tuple[int, ...] = ()
    shortcut: str | None = None
    repeat: int = 1


def _conv_text(conv: nn.Conv2d) -> str:
    k, s = conv.kernel_size[0], conv.stride[0]
    groups = f", g{conv.groups}" if conv.groups > 1 else ""
    return f"{k}x{k}{'/' + str(s) if s > 1 else ''} {conv.out_channels}{groups}"


def _shortcut_text(block: _ConvChain) -> str | None:
    if not block.residual:
        return None
    ds = block.downsample
    if ds is None:
        return "identity"
    if isinstance(ds, ZeroPadShortcut):
        return f"zero-pad{' /' + str(ds.stride) if ds.stride > 1 else ''}"
    if isinstance(ds, Subsample):
        return f"subsample /{ds.stride}"
    convs = [m for m in ds.modules() if isinstance(m, nn.Conv2d)]
    pooled = any(isinstance(m, nn.AvgPool2d) for m in ds.modules())
    return ("avg-pool + " if pooled else "") + f"projection {_conv_text(convs[0])}"


def _block_node(name: str, block: _ConvChain) -> _Node:
    convs = " -> ".join(_conv_text(getattr(block, f"conv{i}")) for i in range(1, block.depth + 1))
    order = "pre-act " if isinstance(block, PreActBlock) else ""
    kind = type(block).__name__
    return _Node(f"{name}  {order}{kind}", convs, shortcut=_shortcut_text(block))


def _nodes(model: Network, detail: str) -> list[tuple[str, _Node]]:
    """(module name, node) pairs in forward order; stages fold repeated identical blocks unless
    ``detail == "blocks"``."""
    nodes: list[tuple[str, _Node]] = []
    for names in model._stage_modules:
        for name in names:
            module = getattr(model, name)
            if isinstance(module, nn.Sequential) and all(isinstance(b, _ConvChain) for b in module):
                previous: _Node | None = None
                for j, block in enumerate(module):
                    node = _block_node(f"{name}.{j}", block)
                    if (detail != "blocks" and previous is not None and j > 1
                            and (node.detail, node.shortcut) == (previous.detail, previous.shortcut)):
                        previous.repeat += 1
                        previous.title = f"{name}.1-{j}  {previous.title.split('  ', 1)[1]}"
                        nodes[-1] = (f"{name}.{j}", previous)
                        continue
                    nodes.append((f"{name}.{j}", node))
                    previous = node
            elif isinstance(module, Inception):
                widths = [module.branch1.conv.out_channels, module.branch2[1].conv.out_channels,
                          module.branch3[1].conv.out_channels, module.branch4[1].conv.out_channels]
                k = module.branch3[1].conv.kernel_size[0]
                nodes.append((name, _Node(f"{name}  Inception", f"1x1 | 3x3 | {k}x{k} | pool->1x1 = "
                                          + " + ".join(map(str, widths)))))
            elif isinstance(module, nn.Conv2d):
                nodes.append((name, _Node(f"{name}  Conv2d", _conv_text(module))))
            elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm | nn.ReLU | nn.SiLU | nn.GELU) and nodes:
                nodes[-1][1].detail += f" + {type(module).__name__.replace('2d', '')}"
            elif isinstance(module, nn.MaxPool2d):
                k, s = module.kernel_size, module.stride
                nodes.append((name, _Node(f"{name}  MaxPool2d", f"{k}x{k}/{s}")))
            elif hasattr(module, "conv") and isinstance(module.conv, nn.Conv2d):
                nodes.append((name, _Node(f"{name}  {type(module).__name__}", _conv_text(module.conv))))
    head = model.spec.head
    if head.classes:
        nodes.append(("fc", _Node("head", f"{head.pool} pool -> dense {head.classes}"
                                  + (f" -> {head.activation}" if head.activation != "none" else ""))))
    return nodes


def diagram(
    model: str | Network,
    out: str | Path,
    *,
    input_size: tuple[int, int, int] | None = None,
    detail: str = "stages",
    **overrides: Any,
) -> Path:
    """Draw ``model`` as a column of boxes with shortcut arcs and output shapes; write it to ``out``.

    Args:
        model: a zoo name (built on the ``meta`` device) or a network.
        out: the file; its suffix picks the format (``.svg``, ``.png``, ``.pdf``).
        detail: ``stages`` folds identical consecutive blocks into one box ("x n"); ``blocks`` draws all.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    out = Path(out)
    if out.suffix.lower() not in _FORMATS:
        raise ResnetsError(f"a diagram is written as {', '.join(_FORMATS)}; {out.name!r} has another suffix.")
    if detail not in ("stages", "blocks"):
        raise ResnetsError(f"detail must be 'stages' or 'blocks', not {detail!r}.")
    if isinstance(model, str):
        get_spec(model, **overrides)
        with torch.device("meta"):
            net = create_model(model, **overrides)
    else:
        net = model
    size = tuple(input_size or net.spec.input_size)
    nodes = _nodes(net, detail)
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, _ in nodes:
        module = net.get_submodule(name)
        handles.append(module.register_forward_hook(
            lambda _m, _i, o, name=name: shapes.__setitem__(name, tuple(o.shape))))
    device = next(net.parameters()).device
    training = net.training
    try:
        with torch.no_grad():
            net.eval()(torch.zeros((1, *size), device=device))
    finally:
        net.train(training)
        for h in handles:
            h.remove()

    rows = [("input", _Node("input", "", (1, *size))), *nodes]
    height = 0.9 * len(rows) + 1.0
    fig, ax = plt.subplots(figsize=(8.5, height))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, len(rows) + 0.5)
    ax.axis("off")
    ax.set_title(f"{net.spec.name}", fontsize=13, loc="left")
    box_w, box_h, x0 = 6.2, 0.62, 1.0
    for i, (name, node) in enumerate(rows):
        y = len(rows) - i - 0.5
        shape = shapes.get(name, node.shape)
        colour = "#e8f0fe" if "Block" in node.title or "Bottleneck" in node.title else "#f3f3f3"
        ax.add_patch(FancyBboxPatch((x0, y - box_h / 2), box_w, box_h, boxstyle="round,pad=0.02",
                                    fc=colour, ec="#555555", lw=0.8))
        title = node.title + (f"   x{node.repeat}" if node.repeat > 1 else "")
        ax.text(x0 + 0.12, y + 0.1, title, fontsize=8.5, va="center", family="monospace", weight="bold")
        ax.text(x0 + 0.12, y - 0.16, node.detail, fontsize=7.5, va="center", family="monospace")
        if shape:
            ax.text(x0 + box_w + 0.15, y, "x".join(map(str, shape[1:])), fontsize=7.5, va="center",
                    color="#333377")
        if i:
            ax.annotate("", (x0 + box_w / 2, y + box_h / 2), (x0 + box_w / 2, y + 1 - box_h / 2),
                        arrowprops=dict(arrowstyle="->", lw=0.8, color="#555555"))
        if node.shortcut:
            ax.add_patch(FancyArrowPatch((x0, y + 0.55), (x0, y - 0.3), connectionstyle="arc3,rad=0.6",
                                         arrowstyle="->", lw=0.9,
                                         color="#2a7a2a" if node.shortcut == "identity" else "#b5651d"))
            ax.text(0.05, y, node.shortcut.replace(" ", "\n", 1), fontsize=6.5, va="center",
                    color="#2a7a2a" if node.shortcut == "identity" else "#b5651d")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, bbox_inches="tight", dpi=110)
    plt.close(fig)
    return out
