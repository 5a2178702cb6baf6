"""``summary()``: a Keras-like table of a model: layer, type, output shape, parameters, MACs.

Written here rather than taken from torchinfo because three things we need are not there: folding rows
to stages and blocks of *our* networks, the Keras way of counting (BatchNorm's moving mean and variance as
non-trainable parameters, so the course's model shows Keras's 23,600,006), and MACs from PyTorch's own
``torch.utils.flop_counter`` (the figure everything else in the project quotes). Shapes and MACs are
computed on the ``meta`` device: a summary of ResNet-1202 or ResNet-152 costs no arithmetic.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from resnets.models import create_model, get_spec
from resnets.models.network import GlobalPool, norms_skipped

_STATS = ("running_mean", "running_var")


@dataclass(frozen=True)
class LayerRow:
    """One row: a module's name, type, output shape, parameter counts and multiply-accumulates."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    macs: int
    depth: int


@dataclass
class ModelSummary:
    """What :func:`summary` measured; ``str()`` renders the table, ``to_dict()`` the numbers."""

    model: str
    input_size: tuple[int, ...]
    rows: list[LayerRow]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    macs: int
    keras: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> Table:
        count = "Param # (Keras)" if self.keras else "Param #"
        table = Table(title=f"{self.model}  (input {'x'.join(map(str, self.input_size))})", title_justify="left")
        table.add_column("Layer (type)")
        table.add_column("Output shape")
        table.add_column(count, justify="right")
        table.add_column("MACs", justify="right")
        for row in self.rows:
            indent = "  " * (row.depth - 1)
            shape = "x".join(map(str, row.output_shape[1:])) if row.output_shape else "-"
            table.add_row(f"{indent}{row.name} ({row.type})", shape, f"{row.params:,}", _human(row.macs))
        return table

    def __str__(self) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, width=120, color_system=None, highlight=False)
        self.print(console)
        return buffer.getvalue()

    def print(self, console: Console | None = None) -> None:
        console = console or Console()
        console.print(self.table())
        console.print(f"Total params: {self.total_params:,}")
        console.print(f"Trainable params: {self.trainable_params:,}")
        console.print(f"Non-trainable params: {self.non_trainable_params:,}")
        console.print(f"MACs: {self.macs:,} ({_human(self.macs)})")
        for note in self.notes:
            console.print(note)


def _meta_fast(net: nn.Module) -> contextlib.AbstractContextManager:
    """Skip norms when the model is on ``meta`` (shapes and MACs unchanged, much faster)."""
    is_meta = any(p.is_meta for p in net.parameters())
    return norms_skipped(net) if is_meta else contextlib.nullcontext()


def _human(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def _type_name(module: nn.Module) -> str:
    if isinstance(module, nn.Sequential) and len(module) and all(type(m) is type(module[0]) for m in module):
        return f"{len(module)} x {type(module[0]).__name__}"
    return type(module).__name__


def _counts(module: nn.Module, keras: bool) -> tuple[int, int]:
    params = list(module.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    if keras:
        total += sum(b.numel() for name, b in module.named_buffers() if name.rsplit(".", 1)[-1] in _STATS)
    return total, trainable


def _rows_to_show(model: nn.Module, depth: int | None) -> list[tuple[str, nn.Module, int]]:
    """(name, module, level) of the rows: children down to ``depth`` levels, leaves at the bottom;
    parameterless modules that change nothing shown (Identity) are left out."""
    rows: list[tuple[str, nn.Module, int]] = []

    def visit(prefix: str, module: nn.Module, level: int) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.Identity):
                continue
            full = f"{prefix}{name}"
            rows.append((full, child, level))
            nested = any(True for _ in child.children()) and not isinstance(child, GlobalPool)
            if (depth is None or level < depth) and nested:
                visit(f"{full}.", child, level + 1)

    visit("", model, 1)
    return rows


def summary(
    model: str | nn.Module,
    input_size: tuple[int, ...] | str | None = None,
    *,
    depth: int | None = 1,
    keras: bool = False,
    **overrides: Any,
) -> ModelSummary:
    """A Keras-like summary table of a model.

    Args:
        model: a zoo name (built on the ``meta`` device: free) or a module.
        input_size: ``(C, H, W)`` or ``"CxHxW"``; the model's own default size when omitted.
        depth: 1 folds to the network's stages (stem layers, ``layer1..N``, head), 2 shows every block,
            ``None`` every layer.
        keras: count as Keras does: BatchNorm's moving mean and variance count as non-trainable
            parameters (the course's ResNet50 then shows Keras's 23,600,006).
        **overrides: spec overrides when ``model`` is a name (``num_classes=10``...).
    """
    if isinstance(model, str):
        get_spec(model, **overrides)  # an unknown name or option fails before anything is built
        with torch.device("meta"):
            net: nn.Module = create_model(model, **overrides)
        name = model
    else:
        net, name = model, getattr(getattr(model, "spec", None), "name", type(model).__name__)
    size = parse_size(input_size) if input_size is not None else _default_size(net)
    device = next(net.parameters()).device if any(True for _ in net.parameters()) else torch.device("cpu")
    shapes: dict[str, tuple[int, ...]] = {}
    shown = _rows_to_show(net, depth)
    handles = []
    for full, module, _ in shown:
        def hook(_m: nn.Module, _i: Any, out: Any, full: str = full) -> None:
            if isinstance(out, torch.Tensor):
                shapes[full] = tuple(out.shape)
        handles.append(module.register_forward_hook(hook))
    training = net.training
    net.eval()
    try:
        with torch.no_grad(), _meta_fast(net), FlopCounterMode(display=False) as counter:
            net(torch.zeros((1, *size), device=device))
    except RuntimeError as exc:
        raise ValueError(
            f"{name} cannot take a {'x'.join(map(str, size))} input ({str(exc).splitlines()[0]})."
        ) from None
    finally:
        for handle in handles:
            handle.remove()
        net.train(training)
    flops = {key.split(".", 1)[1]: sum(v.values()) for key, v in counter.get_flop_counts().items() if "." in key}
    rows = []
    for full, module, level in shown:
        params, trainable = _counts(module, keras)
        rows.append(LayerRow(full, _type_name(module), shapes.get(full, ()), params, trainable,
                             flops.get(full, 0) // 2, level))
    total, trainable = _counts(net, keras)
    notes = []
    if keras:
        notes.append("Keras counting: BatchNorm moving mean/variance are counted as non-trainable parameters.")
    return ModelSummary(
        model=name,
        input_size=size,
        rows=rows,
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        macs=counter.get_total_flops() // 2,
        keras=keras,
        notes=notes,
    )


def _default_size(model: nn.Module) -> tuple[int, ...]:
    spec = getattr(model, "spec", None)
    if spec is None:
        raise ValueError("this module has no spec; pass input_size=(C, H, W).")
    return tuple(spec.input_size)


def parse_size(size: tuple[int, ...] | str) -> tuple[int, ...]:
    """``"3x64x64"`` or ``(3, 64, 64)`` -> ``(3, 64, 64)``."""
    if isinstance(size, str):
        try:
            parts = tuple(int(p) for p in size.lower().split("x"))
        except ValueError:
            parts = ()
    else:
        parts = tuple(size)
    if len(parts) != 3 or any(p < 1 for p in parts):
        raise ValueError(f"an input size is CxHxW, e.g. 3x64x64, not {size!r}.")
    return parts


@dataclass(frozen=True)
class ZooRow:
    """One zoo model as ``resnets models`` lists it."""

    name: str
    family: str
    params: int
    macs: int
    input_size: tuple[int, ...]
    description: str


def zoo_table(pattern: str = "*", *, family: str | None = None) -> list[ZooRow]:
    """Every zoo model matching ``pattern``: trainable parameters and MACs at its default input size,
    measured on the ``meta`` device."""
    from resnets.models import list_models, model_info

    rows = []
    for name in list_models(pattern, family=family):
        info = model_info(name)
        with torch.device("meta"):
            net = create_model(name)
        with torch.no_grad(), norms_skipped(net), FlopCounterMode(display=False) as counter:
            net.eval()(torch.zeros((1, *info.spec.input_size), device="meta"))
        params = sum(p.numel() for p in net.parameters())
        rows.append(ZooRow(name, info.family, params, counter.get_total_flops() // 2,
                           tuple(info.spec.input_size), info.description))
    return rows
