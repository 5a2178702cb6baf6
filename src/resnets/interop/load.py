"""Any weight file into a resnets :class:`~resnets.training.checkpoint.Checkpoint`, and ``create_model`` with
``weights=``.

The file's format is detected (:mod:`resnets.interop.detect`); the model is the one named, or the one the
file's layer names and shapes identify. What the file says about the model is kept: the number of classes
of its classifier and, from a Keras config, the input size and BatchNorm epsilon. Loading is strict: a file
that does not fit raises one sentence naming the model, the first missing and first unexpected key and the
first shape clash.

The preprocessing the weights expect is recorded with them:

- the course: ``x / 255``;
- Keras applications ResNet (v1), ``caffe`` mode: RGB -> BGR, minus (103.939, 116.779, 123.68), no scaling;
- Keras applications ResNetV2, ``tf`` mode: ``x / 127.5 - 1``;
- torchvision / timm ResNets: ``x / 255``, ImageNet mean and std;
- torchvision GoogLeNet: ``x / 127.5 - 1``, what its ``transform_input`` turns ImageNet-normalised input into
  for its (TensorFlow-trained) pretrained weights; our GoogLeNet has no ``transform_input``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from resnets.data.preprocess import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from resnets.errors import ResnetsError
from resnets.interop.detect import FORMATS, detect_format
from resnets.interop.keras import KerasFile, classifier_map, read_keras, to_state_dict
from resnets.interop.keras_names import scheme_for
from resnets.interop.torch_formats import (
    classifier_classes,
    guess_torch_model,
    read_safetensors,
    read_torch,
    torchvision_view,
)
from resnets.models import (
    GoogLeNetSpec,
    NetSpec,
    Network,
    build_model,
    get_spec,
    model_info,
    override_spec,
)
from resnets.models import create_model as create_bare_model
from resnets.models.weights import mismatch, strip_prefixes
from resnets.training.checkpoint import Checkpoint, load_checkpoint

_COURSE_NAME = re.compile(r"(res|bn)\d[a-z]_branch\w+|bn_conv1")
_APPLICATIONS_NAME = re.compile(r"conv\d_block\d+_\w+|conv1_conv|conv1_bn|post_bn|predictions")
_KERAS_DEPTHS = {16: 50, 33: 101, 50: 152}
"""Bottleneck blocks -> depth of the Keras ResNets (stem conv + 4 projections + 3 convs a block)."""


def load_weights_file(model: str | NetSpec | None, path: str | Path, **overrides: Any) -> Checkpoint:
    """Read any supported weight file (module docstring) as a checkpoint of ``model``.

    Args:
        model: a zoo name or a spec; ``None`` to take the model the file identifies.
        path: a Keras ``.h5``/``.keras``/``.weights.h5``, a ``.pth``/``.pt``, a safetensors state dict, a
            resnets checkpoint or run folder.
        **overrides: spec fields and head words, as for ``create_model``.

    Returns:
        A :class:`Checkpoint` whose weights fit its spec exactly; ``config["source"]`` says where they came
        from and how they were matched.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "resnets":
        return _from_checkpoint(model, path, overrides)
    if fmt in ("torch", "safetensors"):
        return _from_torch(model, path, fmt, overrides)
    return _from_keras(model, path, fmt, overrides)


def create_model(
    name: str | NetSpec | None,
    *,
    weights: str | Path | None = None,
    features_only: bool = False,
    out_indices: Sequence[int] | None = None,
    **overrides: Any,
) -> Network:
    """Build a zoo model, with weights from any supported file (``weights=PATH``).

    Without ``weights`` this is :func:`resnets.models.create_model`. With them, the model takes the file's
    weights strictly; a ``num_classes`` other than the file's keeps everything but the classifier, which
    starts fresh (to fine-tune on other classes). The model is in training mode, as a fresh one is.

    Args:
        name: a zoo name or a spec; ``None`` (with ``weights``) to take the model the file identifies.
        weights: a weight file or run folder (:func:`load_weights_file`).
        features_only: backbone mode (``forward`` returns feature maps of ``out_indices``).
        **overrides: spec fields and head words (``num_classes``, ``head_activation``, ...).
    """
    if weights is None:
        if name is None:
            raise ResnetsError("create_model needs a model name, or weights= to take the model from a file.")
        return create_bare_model(name, features_only=features_only, out_indices=out_indices, **overrides)
    classes = overrides.pop("num_classes", None)
    checkpoint = load_weights_file(name, weights, **overrides)
    model = checkpoint.build().train()
    if classes is not None and classes != checkpoint.spec.head.classes:
        model.reset_classifier(classes)
    if features_only or out_indices is not None:
        model.as_backbone(out_indices)
    return model


def preprocessing_for(spec: NetSpec) -> Preprocessing | None:
    """The preprocessing the weights of a model of ``spec``'s family expect (module docstring); ``None``
    where nothing is known (a CIFAR net's state dict, say)."""
    size = (spec.input_size[1], spec.input_size[2])
    family = _family(spec)
    if family == "course":
        return Preprocessing(size, scale=1 / 255)
    if family == "keras":
        if getattr(spec, "preact", False):
            return Preprocessing(size, scale=1 / 127.5, mean=(1.0, 1.0, 1.0))
        return Preprocessing(size, scale=1.0, mean=CAFFE_MEAN_BGR, channel_order="BGR")
    if isinstance(spec, GoogLeNetSpec):
        return Preprocessing(size, scale=1 / 255, mean=(0.5,) * 3, std=(0.5,) * 3, resize="center_crop")
    if family == "imagenet":
        return Preprocessing(size, mean=IMAGENET_MEAN, std=IMAGENET_STD, resize="center_crop")
    return None


# --- per format ------------------------------------------------------------------------------------------


def _from_checkpoint(model: str | NetSpec | None, path: Path, overrides: dict[str, Any]) -> Checkpoint:
    checkpoint = load_checkpoint(path)
    if model is None and not overrides:
        _check_fits(checkpoint.spec, checkpoint.weights, f"the weights in {checkpoint.path}")
        return checkpoint
    base = checkpoint.spec if model is None else model
    spec = _resolve(base, {"num_classes": classifier_classes(checkpoint.weights)}, overrides)
    _check_fits(spec, checkpoint.weights, f"the weights in {checkpoint.path}")
    checkpoint.spec = spec
    return checkpoint


def _from_torch(model: str | NetSpec | None, path: Path, fmt: str, overrides: dict[str, Any]) -> Checkpoint:
    state = strip_prefixes(read_torch(path) if fmt == "torch" else read_safetensors(path))
    notes: list[str] = []
    if model is None:
        model, notes = guess_torch_model(state)
    spec = _resolve(model, {"num_classes": classifier_classes(state)}, overrides)
    state, view_notes = torchvision_view(state, spec)
    _check_fits(spec, state, f"the weights in {path}")
    return _checkpoint(spec, state, path, fmt, "by key (torchvision / timm names)", notes + view_notes,
                       preprocessing_for(spec))


def _from_keras(model: str | NetSpec | None, path: Path, fmt: str, overrides: dict[str, Any]) -> Checkpoint:
    kf = read_keras(path, fmt)
    notes: list[str] = []
    if model is None:
        model, notes = _guess_keras_model(kf)
    dense = kf.of_kind("dense")
    file_says: dict[str, Any] = {"num_classes": int(dense[-1].arrays["kernel"].shape[-1]) if dense else 0}
    if (size := kf.input_size()) is not None:
        file_says["input_size"] = size
    if (eps := kf.bn_epsilon()) is not None:
        file_says["bn_eps"] = eps
    spec = _resolve(model, file_says, overrides)
    base_eps = getattr(get_spec(model) if isinstance(model, str) else model, "bn_eps", None)
    if "bn_eps" in file_says and "bn_eps" not in overrides and base_eps != file_says["bn_eps"]:
        notes.append(f"BatchNorm epsilon {file_says['bn_eps']:g} from the file's config (not {base_eps:g})")
    try:
        net = _meta_model(spec)
    except ValueError:
        if "input_size" not in file_says:
            raise
        size = "x".join(map(str, file_says.pop("input_size")))
        notes.append(f"the file's input size {size} does not suit {spec.name}; kept its own")
        spec = _resolve(model, file_says, overrides)
        net = _meta_model(spec)
    state, how = to_state_dict(kf, net, scheme_for(net), dense_map=classifier_map(net))
    _check_fits(net, state, f"the weights in {path}")
    return _checkpoint(spec, state, path, fmt, how, notes, preprocessing_for(spec))


# --- helpers ---------------------------------------------------------------------------------------------


def _family(spec: NetSpec) -> str | None:
    try:
        return model_info(spec.name).family
    except ResnetsError:
        return None


def _resolve(model: str | NetSpec, file_says: Mapping[str, Any], overrides: Mapping[str, Any]) -> NetSpec:
    """The spec of ``model`` with what the file says (classes, input size, epsilon) and the user's overrides."""
    spec = get_spec(model) if isinstance(model, str) else model
    merged = {k: v for k, v in file_says.items() if v is not None}
    merged.update(overrides)
    return override_spec(spec, **merged) if merged else spec


def _meta_model(spec: NetSpec) -> Network:
    """The model of ``spec`` on the ``meta`` device: its structure and shapes, no memory, no compute."""
    with torch.device("meta"):
        return build_model(spec)


def _check_fits(net: Network | NetSpec, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise one sentence (models/weights.py's wording) unless ``state`` fits the model exactly."""
    net = net if isinstance(net, Network) else _meta_model(net)
    problem = mismatch(net, state)
    if problem:
        raise ResnetsError(f"{source} do not fit {net.spec.name}: {problem}.")


def _guess_keras_model(kf: KerasFile) -> tuple[str, list[str]]:
    """The Keras-layout zoo model a file holds, from its layer names, else its counts of layers."""
    convs, bns, dense = kf.of_kind("conv"), kf.of_kind("bn"), kf.of_kind("dense")
    names = kf.names
    blocks, rest = divmod(len(convs) - 5, 3)
    depth = _KERAS_DEPTHS.get(blocks) if rest == 0 else None
    if depth is None:
        raise ResnetsError(
            f"{kf.path} holds a Keras model of {len(convs)} Conv2D, {len(bns)} BatchNormalization and "
            f"{len(dense)} Dense layers, which matches no known layout (the course's ResNet50, Keras "
            "applications' ResNet50/101/152 and their V2); pass the model name (--model NAME)."
        )
    if any(n.endswith("_preact_bn") for n in names) or len(bns) < len(convs):
        return f"resnet{depth}v2_keras", []
    if any(_COURSE_NAME.fullmatch(n) for n in names):
        return "resnet50_course", []
    if any(_APPLICATIONS_NAME.fullmatch(n) for n in names) or depth != 50:
        return f"resnet{depth}_keras", []
    if "GlobalAveragePooling2D" in kf.config_classes() or kf.bn_epsilon() == 1.001e-5:
        return "resnet50_keras", ["unnamed layers; read as Keras applications' ResNet50 (global pooling)"]
    return "resnet50_course", [
        "unnamed layers; read as the course's ResNet50 (its TF2 notebook leaves layers unnamed); "
        "pass --model resnet50_keras for Keras applications'"
    ]


def _checkpoint(
    spec: NetSpec,
    state: dict[str, torch.Tensor],
    path: Path,
    fmt: str,
    how: str,
    notes: list[str],
    preprocessing: Preprocessing | None,
) -> Checkpoint:
    classes = spec.head.classes
    source = {"path": str(path), "format": fmt, "format_name": FORMATS[fmt], "matched": how, "notes": notes}
    return Checkpoint(
        spec=spec,
        weights=state,
        classes=[str(i) for i in range(classes)],
        preprocessing=preprocessing,
        config={"source": source},
        path=path,
    )
