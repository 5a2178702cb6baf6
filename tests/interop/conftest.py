"""Real Keras models, built here with Keras 3 on the torch backend and saved in every Keras format.

The course's ResNet50 is written as the course writes it (``identity_block`` / ``convolutional_block``,
names like ``res2a_branch2a``), and as its TF2 notebook does (no names: Keras numbers them). Each model is
built once per session, given non-trivial BatchNorm parameters and statistics, and saved as legacy
``.h5``, ``.keras`` and ``.weights.h5``. The course's own variable names (``X``, ``F1``) are kept.
"""
# ruff: noqa: N803, N806

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import h5py
import numpy as np
import pytest
import torch

os.environ["KERAS_BACKEND"] = "torch"
try:
    import keras
    from keras import layers
except ImportError:
    keras = layers = None

FORMATS = ("h5", "keras", "weights.h5")
KERAS_NUMPY_NOISE = "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
"""Keras 3.15 on the torch backend trips numpy 2's ``copy=`` deprecation once per variable it touches."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(KERAS_NUMPY_NOISE))


def _names(stage: int, block: str, named: bool) -> tuple[Callable[[str], dict], Callable[[str], dict]]:
    """The course's ``conv_name_base`` and ``bn_name_base``, as keyword arguments (none when unnamed)."""
    conv_name_base, bn_name_base = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
    return ((lambda part: {"name": conv_name_base + part} if named else {}),
            (lambda part: {"name": bn_name_base + part} if named else {}))


def identity_block(X, f, filters, stage, block, *, named=True, shortcut_first=False):
    """The course's identity block: three convolutions, the input added back."""
    conv, bn = _names(stage, block, named)
    F1, F2, F3 = filters
    X_shortcut = X
    X = layers.Conv2D(F1, (1, 1), strides=(1, 1), padding="valid", **conv("2a"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2a"))(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F2, (f, f), strides=(1, 1), padding="same", **conv("2b"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2b"))(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F3, (1, 1), strides=(1, 1), padding="valid", **conv("2c"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2c"))(X)
    X = layers.Add()([X_shortcut, X] if shortcut_first else [X, X_shortcut])
    return layers.Activation("relu")(X)


def convolutional_block(X, f, filters, stage, block, s=2, *, named=True, shortcut_first=False):
    """The course's convolutional block: the stride on the first 1x1, a 1x1 conv + BN on the shortcut."""
    conv, bn = _names(stage, block, named)
    F1, F2, F3 = filters
    X_shortcut = X
    X = layers.Conv2D(F1, (1, 1), strides=(s, s), padding="valid", **conv("2a"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2a"))(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F2, (f, f), strides=(1, 1), padding="same", **conv("2b"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2b"))(X)
    X = layers.Activation("relu")(X)
    X = layers.Conv2D(F3, (1, 1), strides=(1, 1), padding="valid", **conv("2c"))(X)
    X = layers.BatchNormalization(axis=3, **bn("2c"))(X)
    X_shortcut = layers.Conv2D(F3, (1, 1), strides=(s, s), padding="valid", **conv("1"))(X_shortcut)
    X_shortcut = layers.BatchNormalization(axis=3, **bn("1"))(X_shortcut)
    X = layers.Add()([X_shortcut, X] if shortcut_first else [X, X_shortcut])
    return layers.Activation("relu")(X)


def course_resnet50(input_shape=(64, 64, 3), classes=6, *, named=True, shortcut_first=False):
    """The course's ``ResNet50``: ZeroPadding 3, 7x7/2 conv, BN, max-pool 3/2, stages 2-5, 2x2 average
    pool, flatten, dense softmax named ``'fc' + str(classes)``."""
    kw = {"named": named, "shortcut_first": shortcut_first}
    name = (lambda text: {"name": text}) if named else (lambda text: {})
    X_input = layers.Input(input_shape)
    X = layers.ZeroPadding2D((3, 3))(X_input)
    X = layers.Conv2D(64, (7, 7), strides=(2, 2), **name("conv1"))(X)
    X = layers.BatchNormalization(axis=3, **name("bn_conv1"))(X)
    X = layers.Activation("relu")(X)
    X = layers.MaxPooling2D((3, 3), strides=(2, 2))(X)
    X = convolutional_block(X, 3, [64, 64, 256], 2, "a", s=1, **kw)
    for block in "bc":
        X = identity_block(X, 3, [64, 64, 256], 2, block, **kw)
    X = convolutional_block(X, 3, [128, 128, 512], 3, "a", s=2, **kw)
    for block in "bcd":
        X = identity_block(X, 3, [128, 128, 512], 3, block, **kw)
    X = convolutional_block(X, 3, [256, 256, 1024], 4, "a", s=2, **kw)
    for block in "bcdef":
        X = identity_block(X, 3, [256, 256, 1024], 4, block, **kw)
    X = convolutional_block(X, 3, [512, 512, 2048], 5, "a", s=2, **kw)
    for block in "bc":
        X = identity_block(X, 3, [512, 512, 2048], 5, block, **kw)
    X = layers.AveragePooling2D((2, 2), **name("avg_pool"))(X)
    X = layers.Flatten()(X)
    X = layers.Dense(classes, activation="softmax", **name(f"fc{classes}"))(X)
    return keras.Model(inputs=X_input, outputs=X, name="ResNet50")


def randomize(model: Any, seed: int) -> None:
    """Non-trivial BatchNorm parameters and moving statistics, and conv biases, so no mapping error hides."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 1.5, c)])
        elif isinstance(layer, layers.Conv2D) and layer.use_bias:
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.05, bias.shape)])


@dataclass
class KerasCase:
    """A Keras model, its files in every format, and how to feed it uint8 NHWC images."""

    model: Any
    files: dict[str, Path]
    preprocess: Callable[[np.ndarray], np.ndarray]
    _seen: dict[bytes, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def reference(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Keras's softmax output and its logits (the Dense layer's input times its kernel, plus bias),
        in one forward pass, remembered per batch."""
        key = images.tobytes()
        if key not in self._seen:
            head = self.model.layers[-1]
            both = keras.Model(self.model.inputs, [head.input, self.model.outputs[0]])
            with torch.no_grad():  # Keras on torch records autograd otherwise: 3-5x slower
                features, probs = both([self.preprocess(images.astype("float32"))], training=False)
            kernel, bias = head.get_weights()
            logits = keras.ops.convert_to_numpy(features) @ kernel + bias
            self._seen[key] = (keras.ops.convert_to_numpy(probs), logits)
        return self._seen[key]


def save_all(model: Any, folder: Path, stem: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {fmt: folder / f"{stem}.{fmt}" for fmt in FORMATS}
    model.save(files["h5"])
    model.save(files["keras"])
    model.save_weights(files["weights.h5"])
    return files


def _case(tmp_path_factory: pytest.TempPathFactory, stem: str, build: Callable[[], Any], seed: int,
          preprocess: Callable[[np.ndarray], np.ndarray]) -> KerasCase:
    _need_keras()
    keras.utils.set_random_seed(seed)
    model = build()
    randomize(model, seed)
    files = save_all(model, tmp_path_factory.mktemp(stem), stem)
    return KerasCase(model, files, preprocess)


@pytest.fixture(scope="session")
def keras_course(tmp_path_factory: pytest.TempPathFactory) -> KerasCase:
    """The course's ResNet50 with its layer names."""
    return _case(tmp_path_factory, "course", course_resnet50, 1, lambda x: x / 255.0)


@pytest.fixture(scope="session")
def keras_course_tf2(tmp_path_factory: pytest.TempPathFactory) -> KerasCase:
    """The TF2 notebook's ResNet50: the same layers, unnamed (Keras numbers them)."""
    return _case(tmp_path_factory, "course_tf2", lambda: course_resnet50(named=False), 2, lambda x: x / 255.0)


@pytest.fixture(scope="session")
def keras_applications(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KerasCase]:
    """Keras applications' ResNet50 and ResNet50V2 (random weights, 64x64 input, 10 classes)."""
    apps = keras.applications
    v1 = _case(tmp_path_factory, "resnet50", lambda: apps.ResNet50(weights=None, input_shape=(64, 64, 3), classes=10),
               3, lambda x: apps.resnet.preprocess_input(x.copy()))
    v2 = _case(tmp_path_factory, "resnet50v2",
               lambda: apps.ResNet50V2(weights=None, input_shape=(64, 64, 3), classes=10),
               4, lambda x: apps.resnet_v2.preprocess_input(x.copy()))
    return {"resnet50_keras": v1, "resnet50v2_keras": v2}


@pytest.fixture(scope="session")
def random_images() -> np.ndarray:
    """Six random 64x64 RGB uint8 images (NHWC): the variant that never skips."""
    return np.random.default_rng(0).integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def signs_images(shared_data: Path) -> np.ndarray:
    """Six real SIGNS test photos, 64x64 RGB uint8 (NHWC), one of each class; skips where absent."""
    path = shared_data / "signs" / "test_signs.h5"
    if not path.is_file():
        pytest.skip(f"SIGNS test images not found at {path}")
    with h5py.File(path, "r") as f:
        x, y = np.asarray(f["test_set_x"]), np.asarray(f["test_set_y"]).ravel()
    return x[[int(np.flatnonzero(y == c)[0]) for c in range(6)]]


@pytest.fixture(scope="session")
def loaded() -> Callable[[Path], tuple[Any, Any]]:
    """``load(path)`` -> (checkpoint, model in eval mode), each file read once a session."""
    from resnets.interop import load_weights_file

    cache: dict[Path, tuple[Any, Any]] = {}

    def load(path: Path) -> tuple[Any, Any]:
        if path not in cache:
            checkpoint = load_weights_file(None, path)
            cache[path] = (checkpoint, checkpoint.build())
        return cache[path]

    return load


def ours(checkpoint: Any, images: np.ndarray, model: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Our softmax and logits for uint8 NHWC images, through the checkpoint's recorded preprocessing."""
    model = model if model is not None else checkpoint.build()
    x = checkpoint.preprocessing.normalize(torch.from_numpy(images).permute(0, 3, 1, 2))
    with torch.no_grad():
        logits = model(x)
    return torch.softmax(logits, 1).numpy(), logits.numpy()


def _need_keras() -> None:
    if keras is None:
        pytest.skip("keras is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def kx() -> SimpleNamespace:
    """The helpers above, for test modules (which cannot import a conftest): keras, the course's model
    function, ``randomize``, ``save_all``, ``ours``."""
    _need_keras()
    return SimpleNamespace(keras=keras, layers=layers, course_resnet50=course_resnet50, randomize=randomize,
                           save_all=save_all, ours=ours, formats=FORMATS)
