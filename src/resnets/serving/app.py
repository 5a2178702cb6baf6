"""``create_app(checkpoint)``: the HTTP service of ``resnets serve`` as a FastAPI app.

Endpoints: ``GET /`` (a self-contained page), ``POST /predict`` (images in, top-k labels out),
``GET /model``, ``GET /health`` and ``GET /openapi.json``. FastAPI's ``/docs`` and ``/redoc`` are off:
they load their scripts from a CDN, and this service makes no request off the machine.

Untrusted input is checked in order, cheapest first, and every rejection is a 4xx with
``{"detail": "<one line>"}``: the declared ``Content-Length`` and then the bytes actually read against
the size limit (before any decoding), the number of files, empty files, the pixel count from the image
header (before the pixels are decoded, so a decompression bomb is refused), then a full decode (so a
truncated image fails here). Images go through the checkpoint's own :class:`Preprocessing`, after
turning them upright by their EXIF orientation (as a browser shows them).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import torch
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image, ImageOps
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from resnets._version import __version__
from resnets.data.preprocess import Preprocessing, image_to_tensor
from resnets.errors import ResnetsError
from resnets.models import build_model, count_parameters
from resnets.serving.backends import make_backend
from resnets.serving.batcher import MicroBatcher
from resnets.training.checkpoint import Checkpoint, load_checkpoint
from resnets.training.config import resolve_tta

RAW_TYPES = ("application/octet-stream", "")
MULTIPART_SLACK = 1 << 20
"""Bytes allowed on top of ``max_files * max_bytes`` for multipart boundaries and part headers."""


@dataclass(frozen=True)
class Limits:
    """What one request may carry: bytes per image, images per request, pixels per image."""

    max_bytes: int = 10 << 20
    max_files: int = 16
    max_pixels: int = 40_000_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_files", "max_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}.")


class Label(BaseModel):
    label: str
    probability: float


class ImagePrediction(BaseModel):
    filename: str | None
    top: list[Label]


class PredictResponse(BaseModel):
    model: str
    predictions: list[ImagePrediction]


class ModelResponse(BaseModel):
    name: str
    spec: dict[str, Any]
    classes: list[str]
    input_size: list[int]
    preprocessing: dict[str, Any]
    backend: str
    version: str
    checkpoint: str | None
    metrics: dict[str, Any]
    top_k: int
    limits: dict[str, int]
    tta: str = "none"


class HealthResponse(BaseModel):
    status: str
    batching: dict[str, Any]


class ErrorResponse(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "not an image, a truncated image, an empty body, or too many files",
        413: "an image over the byte or pixel limit",
        415: "a body that is neither multipart/form-data nor image bytes",
        422: "a bad query parameter",
    }.items()
}

PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "description": "Images as multipart/form-data file parts (any field name), or one image as the raw body.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class BodyTooLargeError(Exception):
    """The request body went past its byte limit while being read."""


def capped_receive(receive: Callable[[], Awaitable[dict[str, Any]]], limit: int) -> Callable[[], Awaitable[Any]]:
    """An ASGI ``receive`` that raises :class:`BodyTooLargeError` once more than ``limit`` body bytes arrived, so a
    body without (or lying about) its ``Content-Length`` is cut off too."""
    seen = 0

    async def receive_capped() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError
        return message

    return receive_capped


def decode_image(data: bytes, pre: Preprocessing, *, max_pixels: int, name: str) -> torch.Tensor:
    """Image bytes -> uint8 CHW tensor at the checkpoint's size; a bad image raises a 4xx ``HTTPException``
    whose detail starts with ``name``."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise HTTPException(413, f"{name}: {img.width}x{img.height} pixels is over the limit of "
                                         f"{max_pixels:,} (--max-pixels).")
            img.load()
            converted = ImageOps.exif_transpose(img).convert("RGB" if pre.channels == 3 else "L")
    except HTTPException:
        raise
    except Image.DecompressionBombError:
        raise HTTPException(413, f"{name}: declares too many pixels to decode safely.") from None
    except Image.UnidentifiedImageError:
        raise HTTPException(400, f"{name}: not an image (no format Pillow can read).") from None
    except Exception as exc:  # any failure to decode untrusted bytes is the client's, never the server's
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HTTPException(400, f"{name}: cannot decode it ({reason}); is the image complete?") from None
    return image_to_tensor(converted, pre.size, pre.resize)


class Upload(NamedTuple):
    """One image of a request: its filename (if any), the name errors give it, its bytes."""

    filename: str | None
    name: str
    data: bytes


async def read_images(request: Request, limits: Limits) -> list[Upload]:
    """The images of a multipart or raw-body request, within ``limits``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    multipart = content_type == "multipart/form-data"
    if not multipart and not (content_type.startswith("image/") or content_type in RAW_TYPES):
        raise HTTPException(415, f"cannot read a body of type {content_type}; send multipart/form-data files, or "
                                 "one image's bytes as image/* or application/octet-stream.")
    cap = limits.max_files * limits.max_bytes + MULTIPART_SLACK if multipart else limits.max_bytes
    over = f"over the limit of {cap:,} bytes ({'--max-files x --max-bytes' if multipart else '--max-bytes'})."
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise HTTPException(413, f"the body is {int(declared):,} bytes, {over}")
    capped = Request(request.scope, capped_receive(request.receive, cap))
    try:
        if not multipart:
            body = b"".join([chunk async for chunk in capped.stream()])
            if not body:
                raise HTTPException(400, "the body is empty; send an image.")
            return [Upload(None, "the body", body)]
        form = await capped.form(max_files=limits.max_files, max_fields=limits.max_files)
    except BodyTooLargeError:
        raise HTTPException(413, f"the body is {over}") from None
    except (KeyError, ValueError) as exc:
        raise HTTPException(400, f"malformed multipart body ({exc}).") from None
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not files:
            raise HTTPException(400, "no image in the request; send files as multipart/form-data parts.")
        images = []
        for i, upload in enumerate(files):
            name = upload.filename or f"file {i + 1}"
            if upload.size is not None and upload.size > limits.max_bytes:
                raise HTTPException(413, f"{name}: {upload.size:,} bytes is over the limit of "
                                         f"{limits.max_bytes:,} (--max-bytes).")
            data = await upload.read()
            if not data:
                raise HTTPException(400, f"{name}: the file is empty; send an image.")
            images.append(Upload(upload.filename, name, data))
        return images
    finally:
        await form.close()


def spec_summary(ckpt: Checkpoint) -> dict[str, Any]:
    """The spec in a few numbers: kind, depth, parameters, features, head."""
    spec = ckpt.spec
    with torch.device("meta"):
        params = count_parameters(build_model(spec))
    summary: dict[str, Any] = {"kind": spec.kind, "parameters": params, "num_features": spec.num_features,
                               "head": {"pool": spec.head.pool, "activation": spec.head.activation}}
    if hasattr(spec, "depth"):
        summary["depth"] = spec.depth
    return summary


def create_app(
    checkpoint: str | Path | Checkpoint,
    *,
    backend: str = "torch",
    onnx_path: str | Path | None = None,
    device: str = "auto",
    max_batch: int = 32,
    window_ms: float = 5.0,
    max_bytes: int = Limits.max_bytes,
    max_files: int = Limits.max_files,
    max_pixels: int = Limits.max_pixels,
    top_k: int = 5,
    tta: str | None = None,
) -> FastAPI:
    """The service for a checkpoint (module docstring).

    Args:
        checkpoint: a checkpoint file, a run folder, or a loaded :class:`Checkpoint`.
        backend: ``torch`` or ``onnx`` (:mod:`resnets.serving.backends`).
        onnx_path: an ``.onnx`` file for the onnx backend (default: export the checkpoint's model).
        device: the torch backend's device.
        max_batch: the most images in one model call; 1 turns micro-batching off.
        window_ms: how long a batch waits for more requests.
        max_bytes: the most bytes per image (checked before decoding).
        max_files: the most images per request.
        max_pixels: the most pixels per image (from its header, checked before decoding).
        top_k: labels per image unless the request's ``top_k`` says otherwise.
        tta: test-time views averaged per image (``none``, ``flip``, ``shift``, ``flip+shift``; default: the run's).
    """
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    if ckpt.preprocessing is None:
        raise ResnetsError(f"{ckpt.path} records no preprocessing; re-export it with `resnets convert`.")
    if top_k < 1:
        raise ResnetsError(f"top_k must be at least 1, not {top_k}.")
    pre = ckpt.preprocessing
    limits = Limits(max_bytes=max_bytes, max_files=max_files, max_pixels=max_pixels)
    classes = ckpt.classes or [str(i) for i in range(ckpt.spec.head.classes)]
    tta = resolve_tta(ckpt.config, tta)
    model_backend = make_backend(ckpt, backend, onnx_path=onnx_path, device=device, tta=tta)
    batcher = MicroBatcher(lambda x: model_backend(pre.normalize(x)), max_batch=max_batch, window_ms=window_ms)
    info = ModelResponse(
        name=ckpt.spec.name, spec=spec_summary(ckpt), classes=classes,
        input_size=[pre.channels, *pre.size], preprocessing=pre.to_dict(), backend=model_backend.name,
        version=__version__, checkpoint=ckpt.path.name if ckpt.path else None, metrics=ckpt.metrics,
        top_k=min(top_k, len(classes)),
        limits={"max_bytes": limits.max_bytes, "max_files": limits.max_files, "max_pixels": limits.max_pixels,
                "max_batch": max_batch},
        tta=tta,
    )
    page = resources.files("resnets.serving").joinpath("page.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(
        title=f"resnets serve: {ckpt.spec.name}",
        version=__version__,
        description="Image classification with a resnets checkpoint.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.exception_handler(RequestValidationError)
    async def one_line_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "query")
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, status_code=422)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/health", response_model=HealthResponse, summary="Liveness and batching counts")
    async def health() -> HealthResponse:
        return HealthResponse(status="ok" if batcher.running else "stopped", batching=batcher.stats.to_dict())

    @app.get("/model", response_model=ModelResponse, summary="The model: name, spec, classes, input size")
    async def model() -> ModelResponse:
        return info

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS, openapi_extra=PREDICT_BODY,
              summary="Top-k labels with probabilities for one or more images")
    async def predict(
        request: Request,
        top_k: int | None = Query(None, ge=1, description="labels per image (default: the server's)"),
    ) -> PredictResponse:
        with batcher.incoming():
            uploads = await read_images(request, limits)
            images = await run_in_threadpool(lambda: torch.stack(
                [decode_image(u.data, pre, max_pixels=limits.max_pixels, name=u.name) for u in uploads]))
        probs = await batcher.submit(images)
        values, indices = probs.topk(min(top_k or info.top_k, len(classes)), dim=1)
        predictions = []
        for upload, vs, ix in zip(uploads, values.tolist(), indices.tolist(), strict=True):
            top = [Label(label=classes[i], probability=v) for v, i in zip(vs, ix, strict=True)]
            predictions.append(ImagePrediction(filename=upload.filename, top=top))
        return PredictResponse(model=info.name, predictions=predictions)

    return app
