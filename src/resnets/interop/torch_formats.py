"""torchvision and timm weights: ``.pth``/``.pt`` (``torch.save``) and safetensors state dicts.

Our module names are torchvision's (``conv1``, ``layer1.0.conv1``, ``downsample.0``, ``fc``; GoogLeNet's
``inception3a.branch2.1.conv``), and timm's ResNets use the same keys in the same order, so their state
dicts load with no key map, strictly. The only views applied: wrapper prefixes (``module.``,
``_orig_mod.``) are stripped, a checkpoint dict's ``state_dict``/``model`` entry is unwrapped, and
torchvision GoogLeNet's auxiliary heads (used only in training) are dropped for a model without them,
as torchvision does itself.

``.pth`` files are read with ``torch.load(weights_only=True)`` only: a file whose pickle asks for anything
but tensors and plain containers is refused before any of it runs.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import safetensors
import safetensors.torch
import torch

from resnets.errors import ResnetsError
from resnets.models import NetSpec, ResNetSpec, create_model, list_models, model_info
from resnets.models.weights import strip_prefixes

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module", "ema")
"""Where training scripts (timm's, Lightning's, ours elsewhere) nest the weights inside a checkpoint dict."""
AUX_PREFIXES = ("aux1.", "aux2.")


def read_torch(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict in a ``torch.save`` file, loaded with ``weights_only=True`` (module docstring)."""
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)|global: GLOBAL ([\w.]+)", str(exc))
        what = f" (it asks for {next(g for g in found.groups() if g)})" if found else ""
        raise ResnetsError(
            f"{path} needs unpickling of arbitrary Python objects{what}, which could run code; resnets loads "
            "only tensors: re-save it as torch.save(model.state_dict(), path) or as safetensors."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResnetsError(f"{path} is not a readable PyTorch file (truncated or damaged: {reason}).") from None
    return _state_dict(obj, path)


def read_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """A plain safetensors state dict (a resnets checkpoint is read by ``load_checkpoint`` instead)."""
    try:
        return safetensors.torch.load_file(str(path))
    except (safetensors.SafetensorError, OSError) as exc:
        raise ResnetsError(f"{path} is not a readable safetensors file (truncated or damaged: {exc}).") from None


def _state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """Unwrap a checkpoint dict to its tensors; anything else raises one sentence."""
    while isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ResnetsError(f"{path} holds a {type(obj).__name__}, not a state dict of tensors.")
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise ResnetsError(f"{path} holds a dict without tensors; is it a training log rather than weights?")
    return strip_prefixes(tensors)


def torchvision_view(state: Mapping[str, torch.Tensor], spec: NetSpec) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The state dict as our model of ``spec`` reads it, and a note for every change made (module docstring)."""
    state = strip_prefixes(state)
    notes = []
    if not getattr(spec, "aux_logits", True) and any(k.startswith(AUX_PREFIXES) for k in state):
        state = {k: v for k, v in state.items() if not k.startswith(AUX_PREFIXES)}
        notes.append("dropped the auxiliary heads (aux1, aux2), used only in training")
    return state, notes


def guess_torch_model(state: Mapping[str, torch.Tensor]) -> tuple[str, list[str]]:
    """The zoo model whose state dict has exactly these keys and shapes (the classifier aside).

    Candidates are narrowed by their stage depths first, then built on the ``meta`` device (no memory, no
    compute). Where several fit (``resnet50`` and ``resnet50_v1`` differ only in where they stride), the
    first registered wins and the others are named in the notes.
    """
    state = strip_prefixes(state)
    depths = _stage_depths(state)
    fits = []
    for name in list_models():
        spec = model_info(name).spec
        if isinstance(spec, ResNetSpec) != bool(depths):
            continue
        if isinstance(spec, ResNetSpec) and tuple(s.depth for s in spec.stages) != depths:
            continue
        view, _ = torchvision_view(state, spec)
        with torch.device("meta"):
            expected = create_model(name).state_dict()
        if set(expected) == set(view) and all(
            k.startswith("fc.") or tuple(expected[k].shape) == tuple(view[k].shape) for k in expected
        ):
            fits.append(name)
    if not fits:
        raise ResnetsError(
            "these weights match no model of the zoo (keys or shapes differ); pass the model name "
            "(--model NAME, or create_model(NAME, weights=...)) to see what does not fit."
        )
    notes = [f"also fits {', '.join(fits[1:])}; pass the model name to choose"] if len(fits) > 1 else []
    return fits[0], notes


def _stage_depths(state: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    blocks: dict[int, set[int]] = {}
    for key in state:
        found = re.match(r"layer(\d+)\.(\d+)\.", key)
        if found:
            blocks.setdefault(int(found[1]), set()).add(int(found[2]))
    return tuple(len(blocks[i]) for i in sorted(blocks))


def classifier_classes(state: Mapping[str, torch.Tensor]) -> int | None:
    """The number of classes of a torchvision-layout classifier (``fc.weight``), if there is one."""
    weight = state.get("fc.weight")
    return int(weight.shape[0]) if weight is not None and weight.ndim == 2 else None
