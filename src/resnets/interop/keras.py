"""Reading and writing Keras weight files with h5py and the JSON config alone: no Keras, no code from a file.

Three formats, one view (:class:`KerasFile`: the weighted layers, each with its name when the file keeps
one, listed in Keras's layer order within each kind):

- legacy HDF5, ``model.save("x.h5")`` or ``save_weights("x.h5")`` from Keras 2 or 3:
  ``model_weights/<layer>/<layer>/kernel[:0]``, the layer order in the ``layer_names`` attribute, the
  variables of each layer in its ``weight_names`` attribute, the model's config in ``model_config``;
- Keras 3 weights, ``model.save_weights("x.weights.h5")``: ``layers/conv2d_7/vars/0``, groups named by
  class and numbered in Keras's layer order (the layer's own name, where Keras 3.15 writes it, in the
  ``name`` attribute of ``vars``);
- Keras 3 archives, ``model.save("x.keras")``: a zip holding ``config.json`` (layer names, classes and
  order) and ``model.weights.h5`` (the previous format).

The variables are converted to PyTorch's layouts: HWIO kernels to OIHW, Dense ``(in, out)`` to
``(out, in)`` (rows reordered from Keras's channels-last flatten to PyTorch's channels-first one when
the classifier reads a map larger than 1x1), BatchNorm ``gamma, beta, moving_mean, moving_variance`` to
``weight, bias, running_mean, running_var``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from resnets.errors import ResnetsError
from resnets.interop.keras_names import KERAS_CLASS, KINDS, SNAKE_CLASS, KerasLayer, Scheme, keras_layers
from resnets.models import Network, build_model
from resnets.models.resnet import ResNet
from resnets.training.checkpoint import atomic_write

ROLES: dict[str, tuple[str, ...]] = {
    "conv": ("kernel", "bias"),
    "bn": ("gamma", "beta", "moving_mean", "moving_variance"),
    "dense": ("kernel", "bias"),
}
"""Keras's variables of each kind, in the order Keras stores them."""
TORCH_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var",
               "kernel": "weight", "bias": "bias"}
_KIND_OF_SNAKE = {snake: kind for kind, snake in SNAKE_CLASS.items()}
_KIND_OF_CLASS = {cls: kind for kind, cls in KERAS_CLASS.items()}


@dataclass
class KerasWeights:
    """One weighted layer of a Keras file: its name (``None`` where the file keeps none), its kind
    (``conv``, ``bn``, ``dense``, or the Keras class of anything else) and its variables by role."""

    name: str | None
    kind: str
    arrays: dict[str, np.ndarray]
    where: str


@dataclass
class KerasFile:
    """What a Keras weight file holds (module docstring)."""

    path: Path
    format: str
    layers: list[KerasWeights]
    config: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[KerasWeights]:
        return [w for w in self.layers if w.kind == kind]

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.layers if w.name]

    def config_layers(self) -> list[dict[str, Any]]:
        """The model config's layer entries (class and config), in the model's layer order."""
        if not self.config:
            return []
        layers = self.config.get("config", {}).get("layers", [])
        return [entry for entry in layers if isinstance(entry, dict)]

    def config_classes(self) -> set[str]:
        return {str(entry.get("class_name")) for entry in self.config_layers()}

    def bn_epsilon(self) -> float | None:
        """The BatchNorm epsilon the config gives, when all BatchNorm layers share one."""
        values = {entry["config"].get("epsilon") for entry in self.config_layers()
                  if entry.get("class_name") == "BatchNormalization" and isinstance(entry.get("config"), dict)}
        values.discard(None)
        return float(values.pop()) if len(values) == 1 else None

    def input_size(self) -> tuple[int, int, int] | None:
        """The model's input as (C, H, W), from the config's InputLayer (channels last)."""
        for entry in self.config_layers():
            cfg = entry.get("config") or {}
            shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
            if entry.get("class_name") == "InputLayer" and shape and len(shape) == 4 and all(shape[1:]):
                h, w, c = (int(v) for v in shape[1:])
                return (c, h, w)
        return None


# --- reading ---------------------------------------------------------------------------------------------


def read_keras(path: str | Path, fmt: str) -> KerasFile:
    """Read a Keras file of a known format (``keras-h5``, ``keras-weights``, ``keras-archive``)."""
    path = Path(path)
    try:
        if fmt == "keras-archive":
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
                data = archive.read("model.weights.h5")
            with h5py.File(io.BytesIO(data), "r") as f:
                layers = _read_weights_h5(f)
            _name_from_config(layers, config)
            return KerasFile(path, fmt, layers, config)
        with h5py.File(path, "r") as f:
            if fmt == "keras-weights":
                return KerasFile(path, fmt, _read_weights_h5(f))
            config = _json_attr(f.attrs.get("model_config"))
            return KerasFile(path, fmt, _read_legacy(f), config)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        if isinstance(exc, ResnetsError):
            raise
        raise ResnetsError(f"{path} is not a readable Keras file (truncated or damaged: {exc}).") from None


def _strings(values: Iterable[Any]) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _json_attr(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    return json.loads(text)


def layer_kind(arrays: dict[str, np.ndarray]) -> str:
    """A layer's kind from its variables' roles and ranks: ``bn``, ``conv`` (4-D kernel), ``dense`` (2-D),
    else the roles themselves (a layer no ResNet has)."""
    if "moving_mean" in arrays or "gamma" in arrays:
        return "bn"
    kernel = arrays.get("kernel")
    if kernel is not None and kernel.ndim in (2, 4):
        return "conv" if kernel.ndim == 4 else "dense"
    return "+".join(sorted(arrays)) or "empty"


def _read_legacy(f: h5py.File) -> list[KerasWeights]:
    """Legacy HDF5: the layer order in ``layer_names``, each layer's variables in ``weight_names``."""
    group = f.get("model_weights", f)
    if "layer_names" not in group.attrs:
        raise ResnetsError(f"{f.filename} is an HDF5 file without Keras layer names; is it a Keras model?")
    layers = []
    for name in _strings(group.attrs["layer_names"]):
        g = group[name]
        arrays = {}
        for weight in _strings(g.attrs.get("weight_names", [])):
            arrays[weight.split("/")[-1].split(":")[0]] = np.asarray(g[weight])
        if arrays:
            layers.append(KerasWeights(name, layer_kind(arrays), arrays, f"model_weights/{name}"))
    return layers


_GROUP = re.compile(r"(?P<snake>.+?)(?:_(?P<n>\d+))?")


def _read_weights_h5(f: h5py.File) -> list[KerasWeights]:
    """Keras 3 weights: ``layers/<class>_<n>/vars/<i>``, ordered within each class by ``n``."""
    if "layers" not in f:
        raise ResnetsError(f"{f.filename} has no 'layers' group; is it a Keras 3 .weights.h5 file?")
    found: list[tuple[str, int, KerasWeights]] = []
    for group_name, group in f["layers"].items():
        if "layers" in group:
            raise ResnetsError(
                f"{f.filename} holds a nested Keras model (layers/{group_name}); resnets reads flat "
                "Functional models: save the inner model itself."
            )
        variables = group.get("vars")
        if variables is None or len(variables) == 0:
            continue
        match = _GROUP.fullmatch(group_name)
        snake, number = (match["snake"], int(match["n"] or 0)) if match else (group_name, 0)
        kind = _KIND_OF_SNAKE.get(snake, snake)
        values = [np.asarray(variables[str(i)]) for i in range(len(variables))]
        roles = ROLES.get(kind, tuple(str(i) for i in range(len(values))))
        arrays = dict(zip(roles, values, strict=False))
        name = variables.attrs.get("name")
        name = name.decode() if isinstance(name, bytes) else name
        found.append((kind, number, KerasWeights(name or None, kind, arrays, f"layers/{group_name}")))
    found.sort(key=lambda item: (item[0], item[1]))
    return [w for _, _, w in found]


def _name_from_config(layers: list[KerasWeights], config: dict[str, Any]) -> None:
    """Give each layer of an archive its name from ``config.json`` (the n-th layer of its class)."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for entry in config.get("config", {}).get("layers", []):
        kind = _KIND_OF_CLASS.get(entry.get("class_name"))
        if kind:
            by_class[kind].append(entry.get("config", {}).get("name") or entry.get("name"))
    counts: dict[str, int] = defaultdict(int)
    for w in layers:
        names = by_class.get(w.kind, [])
        if counts[w.kind] < len(names):
            w.name = names[counts[w.kind]]
        counts[w.kind] += 1


# --- Keras -> PyTorch ------------------------------------------------------------------------------------


def to_state_dict(
    kf: KerasFile, model: ResNet, scheme: Scheme, *, dense_map: tuple[int, int] | None = None
) -> tuple[dict[str, torch.Tensor], str]:
    """Our state dict from a Keras file, and how its layers were matched.

    By layer name when the file's names are ``scheme``'s, else by Keras's layer order within each kind
    (:mod:`resnets.interop.keras_names`), trying both orders of ``Add``'s inputs and keeping the one where
    every shape fits. File layers left over go in under their Keras names, so a strict load names them.

    Args:
        dense_map: the (H, W) of the map the classifier flattens, where it is larger than 1x1.
    """
    expected = keras_layers(model, scheme)
    by_name = {e.name: e for e in expected}
    named = [w for w in kf.layers if w.name in by_name]
    if named:
        pairs = [(w, by_name.get(w.name or "")) for w in kf.layers]
        _pair_classifier(pairs, expected)
        how = f"by layer name ({scheme.name} names)"
    else:
        pairs, how = _pairs_by_order(kf, model, scheme), "by Keras's layer order"
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    state: dict[str, torch.Tensor] = {}
    for w, e in pairs:
        if e is None or e.kind != w.kind:
            for role, array in w.arrays.items():
                state[f"{w.name or w.where}/{role}"] = torch.from_numpy(np.array(array))
            continue
        state.update(_convert(w, e, shapes, dense_map))
    return state, how


def _pair_classifier(pairs: list[tuple[KerasWeights, KerasLayer | None]], expected: list[KerasLayer]) -> None:
    """Pair a lone unmatched Dense with our classifier: the course names it after its class count
    (``fc6``), so another count must show as a shape clash, not as a missing and an unexpected layer."""
    taken = {e.name for _, e in pairs if e is not None}
    free = [e for e in expected if e.kind == "dense" and e.name not in taken]
    loose = [i for i, (w, e) in enumerate(pairs) if e is None and w.kind == "dense"]
    if len(free) == 1 and len(loose) == 1:
        pairs[loose[0]] = (pairs[loose[0]][0], free[0])


def _pairs_by_order(kf: KerasFile, model: ResNet, scheme: Scheme) -> list[tuple[KerasWeights, KerasLayer | None]]:
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    candidates = []
    for first in (scheme.shortcut_first, not scheme.shortcut_first):
        expected = keras_layers(model, scheme, shortcut_first=first)
        pairs: list[tuple[KerasWeights, KerasLayer | None]] = []
        for kind in (*KINDS, None):
            have = [w for w in kf.layers if (w.kind == kind if kind else w.kind not in KINDS)]
            want = [e for e in expected if e.kind == kind]
            pairs += [(w, want[i] if i < len(want) else None) for i, w in enumerate(have)]
        fits = all(e is not None and _fits(w, e, shapes) for w, e in pairs) and len(pairs) == len(expected)
        if fits:
            return pairs
        candidates.append(pairs)
    return candidates[0]


def _fits(w: KerasWeights, e: KerasLayer, shapes: dict[str, tuple[int, ...]]) -> bool:
    converted = _convert(w, e, shapes, None, check_only=True)
    return all(shapes.get(k) == tuple(v.shape) for k, v in converted.items())


def _convert(
    w: KerasWeights,
    e: KerasLayer,
    shapes: dict[str, tuple[int, ...]],
    dense_map: tuple[int, int] | None,
    *,
    check_only: bool = False,
) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for role, array in w.arrays.items():
        key = f"{e.module}.{TORCH_NAMES.get(role, role)}"
        if role == "kernel" and array.ndim == 4:
            array = array.transpose(3, 2, 0, 1)
        elif role == "kernel" and array.ndim == 2:
            array = _dense_to_torch(array, dense_map) if not check_only else array.T
        out[key] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if e.kind == "bn":
        out[f"{e.module}.num_batches_tracked"] = torch.tensor(0)
    return out


def _dense_to_torch(kernel: np.ndarray, dense_map: tuple[int, int] | None) -> np.ndarray:
    """Keras ``(in, out)`` -> PyTorch ``(out, in)``, rows reordered from an (H, W, C) flatten to (C, H, W)."""
    if dense_map is None or dense_map == (1, 1):
        return kernel.T
    h, w = dense_map
    fan_in, out = kernel.shape
    if fan_in % (h * w):
        return kernel.T
    c = fan_in // (h * w)
    return kernel.reshape(h, w, c, out).transpose(3, 2, 0, 1).reshape(out, fan_in)


def _dense_to_keras(weight: np.ndarray, dense_map: tuple[int, int] | None) -> np.ndarray:
    if dense_map is None or dense_map == (1, 1):
        return weight.T
    h, w = dense_map
    out, fan_in = weight.shape
    c = fan_in // (h * w)
    return weight.reshape(out, c, h, w).transpose(2, 3, 1, 0).reshape(fan_in, out)


def classifier_map(net: Network) -> tuple[int, int] | None:
    """The (H, W) of the map the classifier flattens, where the head flattens more than one pixel."""
    fc = net.fc
    if not isinstance(fc, torch.nn.Linear) or fc.in_features == net.num_features:
        return None
    with torch.device("meta"), torch.no_grad():
        fmap = build_model(net.spec).forward_features(torch.empty((1, *net.spec.input_size)))
    h, w = fmap.shape[-2:]
    return (h // 2, w // 2) if net.spec.head.pool == "avg2x2" else (h, w)


# --- PyTorch -> Keras ------------------------------------------------------------------------------------


def write_keras_weights(
    path: str | Path, model: ResNet, scheme: Scheme, *, dense_map: tuple[int, int] | None = None
) -> Path:
    """Write ``model`` as a Keras 3 ``.weights.h5`` that ``keras_model.load_weights`` reads into the same
    architecture built in Keras (the course's functions, or ``keras.applications``)."""
    path = Path(path)
    state = {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    counts: dict[str, int] = defaultdict(int)
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        layers = f.create_group("layers")
        for e in keras_layers(model, scheme):
            snake = SNAKE_CLASS[e.kind]
            n = counts[snake]
            counts[snake] += 1
            variables = layers.create_group(snake if n == 0 else f"{snake}_{n}").create_group("vars")
            variables.attrs["name"] = e.name
            for i, role in enumerate(ROLES[e.kind]):
                key = f"{e.module}.{TORCH_NAMES[role]}"
                if key not in state:
                    continue
                array = state[key]
                if role == "kernel":
                    array = array.transpose(2, 3, 1, 0) if array.ndim == 4 else _dense_to_keras(array, dense_map)
                variables.create_dataset(str(i), data=np.ascontiguousarray(array))
        f.create_group("vars")
    payload = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(payload))
    return path
