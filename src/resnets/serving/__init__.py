"""Inference with a trained checkpoint: ``resnets predict`` (:func:`predict`) on image files, and
``resnets serve`` (:func:`serve`) over HTTP with the app it runs (:func:`resnets.serving.app.create_app`);
both on the torch or the ONNX Runtime backend (:mod:`resnets.serving.backends`). Serving over HTTP needs
the ``serve`` extra (FastAPI, uvicorn, python-multipart); importing this package does not, so
``import resnets`` works without it."""

from resnets.serving.predict import Prediction, predict
from resnets.serving.server import serve

__all__ = ["Prediction", "predict", "serve"]
