"""Serving a checkpoint over HTTP: ``resnets serve`` (:func:`serve`) and the app it runs
(:func:`resnets.serving.app.create_app`). Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart);
importing this package does not, so ``import resnets`` works without it."""

from resnets.serving.server import serve

__all__ = ["serve"]
