"""Timing worker for the course's own Keras ResNet50 (run with the TensorFlow venv's python).

The model is the course's code ("Residual Networks", deeplearning.ai): `identity_block` and
`convolutional_block` with the course's layer names, trained with Adam and categorical cross-entropy
through `train_on_batch`, as `model.fit` would. See _workers.py for the protocol."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from _workers import serve, timer

STEPS: dict[str, Any] = {}


def course_resnet50(keras: Any, input_shape=(64, 64, 3), classes: int = 6) -> Any:
    layers = keras.layers
    init = keras.initializers.GlorotUniform(seed=0)

    def identity_block(x, f, filters, stage, block):
        conv, bn = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
        f1, f2, f3 = filters
        shortcut = x
        x = layers.Conv2D(f1, 1, padding="valid", name=conv + "2a", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2a")(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(f2, f, padding="same", name=conv + "2b", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2b")(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(f3, 1, padding="valid", name=conv + "2c", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2c")(x)
        return layers.Activation("relu")(layers.Add()([x, shortcut]))

    def convolutional_block(x, f, filters, stage, block, s=2):
        conv, bn = f"res{stage}{block}_branch", f"bn{stage}{block}_branch"
        f1, f2, f3 = filters
        shortcut = x
        x = layers.Conv2D(f1, 1, strides=s, padding="valid", name=conv + "2a", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2a")(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(f2, f, padding="same", name=conv + "2b", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2b")(x)
        x = layers.Activation("relu")(x)
        x = layers.Conv2D(f3, 1, padding="valid", name=conv + "2c", kernel_initializer=init)(x)
        x = layers.BatchNormalization(axis=3, name=bn + "2c")(x)
        shortcut = layers.Conv2D(f3, 1, strides=s, padding="valid", name=conv + "1", kernel_initializer=init)(shortcut)
        shortcut = layers.BatchNormalization(axis=3, name=bn + "1")(shortcut)
        return layers.Activation("relu")(layers.Add()([x, shortcut]))

    inputs = keras.Input(input_shape)
    x = layers.ZeroPadding2D((3, 3))(inputs)
    x = layers.Conv2D(64, 7, strides=2, name="conv1", kernel_initializer=init)(x)
    x = layers.BatchNormalization(axis=3, name="bn_conv1")(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = convolutional_block(x, 3, [64, 64, 256], 2, "a", s=1)
    for b in "bc":
        x = identity_block(x, 3, [64, 64, 256], 2, b)
    x = convolutional_block(x, 3, [128, 128, 512], 3, "a")
    for b in "bcd":
        x = identity_block(x, 3, [128, 128, 512], 3, b)
    x = convolutional_block(x, 3, [256, 256, 1024], 4, "a")
    for b in "bcdef":
        x = identity_block(x, 3, [256, 256, 1024], 4, b)
    x = convolutional_block(x, 3, [512, 512, 2048], 5, "a")
    for b in "bc":
        x = identity_block(x, 3, [512, 512, 2048], 5, b)
    x = layers.AveragePooling2D((2, 2), name="avg_pool")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(classes, activation="softmax", name=f"fc{classes}", kernel_initializer=init)(x)
    return keras.Model(inputs, outputs, name="ResNet50")


def setup(key: str, batch: int, precision: str = "fp32", **_: Any) -> dict[str, Any]:
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    model = course_resnet50(keras)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((batch, 64, 64, 3), dtype=np.float32)
    y = np.eye(6, dtype=np.float32)[rng.integers(0, 6, batch)]
    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    model.train_on_batch(x, y)
    STEPS[key] = lambda: model.train_on_batch(x, y)
    return {"first_step_s": first, "params": model.count_params()}


def versions() -> dict[str, Any]:
    import keras
    import tensorflow as tf

    return {"keras": keras.__version__, "tensorflow": tf.__version__, "backend": keras.backend.backend()}


if __name__ == "__main__":
    serve({"setup": setup, "time": timer(STEPS), "versions": versions})
