"""The HTTP API in process: every endpoint, every kind of bad request, micro-batching through the app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from serve_helpers import TestClient, image_bytes, png_header_only

from resnets import predict
from resnets.serving.app import create_app


@pytest.fixture(scope="module")
def client(checkpoint: Path) -> Iterator[TestClient]:
    with TestClient(create_app(checkpoint, max_files=4, max_bytes=50_000, max_pixels=1_000_000)) as c:
        yield c


def test_health_and_model(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["batching"]["batches"] >= 0
    model = client.get("/model").json()
    assert model["name"] == "resnet20" and model["classes"] == ["c0", "c1", "c2", "c3"]
    assert model["input_size"] == [3, 16, 16] and model["backend"] == "torch"
    assert model["spec"]["parameters"] == 269_332 and model["spec"]["depth"] == 20
    assert model["top_k"] == 4 and model["limits"]["max_files"] == 4
    assert model["version"] and model["checkpoint"] == "best.safetensors" and model["tta"] == "none"


def test_openapi_describes_the_endpoints_and_the_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/predict", "/model", "/health"} <= set(spec["paths"])
    predict_op = spec["paths"]["/predict"]["post"]
    assert {"multipart/form-data", "image/*", "application/octet-stream"} <= set(predict_op["requestBody"]["content"])
    assert {"200", "400", "413", "415"} <= set(predict_op["responses"])
    assert client.get("/docs").status_code == 404


def test_predictions_match_resnets_predict_on_the_same_files(
    client: TestClient, checkpoint: Path, signs_images: list[Path]
) -> None:
    files = [("files", (p.name, p.read_bytes(), "image/jpeg")) for p in signs_images[:4]]
    got = client.post("/predict", files=files).json()
    raw = client.post("/predict", content=signs_images[4].read_bytes(), headers={"content-type": "image/jpeg"})
    expected = predict(checkpoint, signs_images[:5], top_k=4, backend="torch")
    served = [*got["predictions"], *raw.json()["predictions"]]
    assert [p["filename"] for p in served] == [p.name for p in signs_images[:4]] + [None]
    for s, e in zip(served, expected, strict=True):
        assert [t["label"] for t in s["top"]] == [label for label, _ in e.top]
        assert [t["probability"] for t in s["top"]] == pytest.approx([p for _, p in e.top], abs=1e-5)


def test_serve_and_predict_turn_an_exif_rotated_photo_upright_alike(
    client: TestClient, checkpoint: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    upright = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    upright[:, :20] = (230, 30, 30)
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = tmp_path / "sideways.png"
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(sideways, exif=exif)
    Image.fromarray(upright).save(tmp_path / "upright.png")
    by_file = predict(checkpoint, [tmp_path / "upright.png", sideways], top_k=4, backend="torch")
    assert [label for label, _ in by_file[0].top] == [label for label, _ in by_file[1].top]
    assert [p for _, p in by_file[0].top] == pytest.approx([p for _, p in by_file[1].top], abs=1e-6)
    served = client.post("/predict", content=sideways.read_bytes(), headers={"content-type": "image/png"}).json()
    top = served["predictions"][0]["top"]
    assert [t["label"] for t in top] == [label for label, _ in by_file[1].top]
    assert [t["probability"] for t in top] == pytest.approx([p for _, p in by_file[1].top], abs=1e-5)


def test_top_k_and_known_classes(client: TestClient) -> None:
    images = [image_bytes((220, 30, 30)), image_bytes((30, 220, 30)), image_bytes((30, 30, 220))]
    files = [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
    out = client.post("/predict", files=files, params={"top_k": 2}).json()["predictions"]
    assert [p["top"][0]["label"] for p in out] == ["c0", "c1", "c2"]
    for p in out:
        probs = [t["probability"] for t in p["top"]]
        assert len(probs) == 2 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    full = client.post("/predict", content=images[0], params={"top_k": 99}).json()["predictions"][0]["top"]
    assert len(full) == 4 and sum(t["probability"] for t in full) == pytest.approx(1, abs=1e-5)


JPEG = image_bytes(fmt="JPEG", size=(64, 64))
FIELD_ONLY = b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nno file here\r\n--b--\r\n'


@pytest.mark.parametrize(
    ("request_kwargs", "status", "reason"),
    [
        ({"content": b"hello, not an image"}, 400, "the body: not an image"),
        ({"content": JPEG[: len(JPEG) // 2]}, 400, "the body: cannot decode it"),
        ({"content": b""}, 400, "the body is empty"),
        ({"files": [("files", ("e.png", b"", "image/png"))]}, 400, "e.png: the file is empty"),
        ({"files": [("files", ("n.txt", b"plain text", "text/plain"))]}, 400, "n.txt: not an image"),
        ({"files": [("f", (f"{i}.png", image_bytes(), "image/png")) for i in range(5)]}, 400, "Too many files"),
        ({"content": FIELD_ONLY, "headers": {"content-type": "multipart/form-data; boundary=b"}}, 400, "no image"),
        ({"content": b"--x\r\n", "headers": {"content-type": "multipart/form-data"}}, 400, "boundary"),
        ({"json": {"image": "base64?"}}, 415, "cannot read a body of type application/json"),
        ({"content": image_bytes(), "params": {"top_k": 0}}, 422, "top_k: Input should be greater than"),
        ({"content": image_bytes(), "params": {"top_k": "two"}}, 422, "top_k: Input should be a valid integer"),
        ({"content": b"x" * 50_001}, 413, "the body is 50,001 bytes, over the limit of 50,000 bytes"),
        ({"content": (b"x" * 1000 for _ in range(51))}, 413, "the body is over the limit of 50,000 bytes"),
        ({"files": [("f", ("big.png", b"x" * 50_001, "image/png"))]}, 413, "big.png: 50,001 bytes"),
        ({"content": image_bytes(size=(1001, 1000))}, 413, "1001x1000 pixels is over the limit of 1,000,000"),
        ({"content": png_header_only(100_000, 100_000)}, 413, "too many pixels to decode safely"),
    ],
    ids=["not-an-image", "truncated", "empty-body", "empty-file", "text-file", "too-many-files", "no-file-part",
         "no-boundary", "json-body", "top-k-zero", "top-k-text", "over-max-bytes", "over-max-bytes-chunked",
         "file-over-max-bytes", "over-max-pixels", "decompression-bomb"],
)
def test_bad_requests_get_a_4xx_with_one_line_and_the_server_lives_on(
    client: TestClient, request_kwargs: dict, status: int, reason: str
) -> None:
    response = client.post("/predict", **request_kwargs)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and reason in detail
    assert client.post("/predict", content=image_bytes()).json()["predictions"][0]["top"][0]["label"] == "c0"


def test_the_size_limit_is_checked_before_reading_or_decoding(client: TestClient) -> None:
    response = client.post("/predict", content=b"x" * 10, headers={"content-length": "60000"})
    assert response.status_code == 413 and "60,000 bytes, over the limit of 50,000" in response.json()["detail"]


def test_concurrent_requests_share_model_calls(checkpoint: Path) -> None:
    app = create_app(checkpoint, max_batch=8, window_ms=100)
    colors = [(220, 30, 30), (30, 220, 30), (30, 30, 220)] * 6

    async def main() -> tuple[list[httpx.Response], dict]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://serve.test") as c:
                responses = await asyncio.gather(*[c.post("/predict", content=image_bytes(rgb)) for rgb in colors])
                return list(responses), (await c.get("/health")).json()["batching"]

    responses, stats = asyncio.run(main())
    labels = [r.json()["predictions"][0]["top"][0]["label"] for r in responses]
    assert labels == ["c0", "c1", "c2"] * 6
    assert stats["requests"] == 18 and stats["largest_batch"] <= 8 and stats["batches"] <= 6


def test_served_views_match_predict_with_the_same_views(checkpoint: Path, signs_images: list[Path]) -> None:
    with TestClient(create_app(checkpoint, tta="flip")) as c:
        assert c.get("/model").json()["tta"] == "flip"
        got = c.post("/predict", files=[("files", (signs_images[0].name, signs_images[0].read_bytes(),
                                                   "image/jpeg"))]).json()["predictions"][0]
    (expected,) = predict(checkpoint, signs_images[:1], top_k=4, backend="torch", tta="flip")
    (single,) = predict(checkpoint, signs_images[:1], top_k=4, backend="torch", tta="none")
    assert [t["probability"] for t in got["top"]] == pytest.approx([p for _, p in expected.top], abs=1e-5)
    assert [p for _, p in expected.top] != pytest.approx([p for _, p in single.top], abs=1e-5)
