"""``cifar10:DIR`` / ``cifar100:DIR``: the npz copy, official archives built here (tarred, extracted,
downloaded from a local server with resume and a checksum), hostile pickles and archives."""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch

from resnets.data import load_data
from resnets.data.cifar import STATS
from resnets.errors import ResnetsError

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 20


def official_files(classes: int = 10) -> dict[str, bytes]:
    """A tiny CIFAR-10 (or -100) in the official layout: protocol-2 pickles of dicts of numpy arrays."""
    rng = np.random.default_rng(0)
    files = {}

    def batch(n: int, label_key: str, offset: int) -> bytes:
        labels = [(offset + i) % classes for i in range(n)]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        return pickle.dumps({"batch_label": "tiny", label_key: labels, "data": data,
                             "filenames": [f"img_{i}.png" for i in range(n)]}, protocol=2)

    if classes == 10:
        for i in range(1, 6):
            files[f"cifar-10-batches-py/data_batch_{i}"] = batch(PER_BATCH, "labels", i)
        files["cifar-10-batches-py/test_batch"] = batch(PER_BATCH, "labels", 0)
        files["cifar-10-batches-py/batches.meta"] = pickle.dumps({"label_names": NAMES}, protocol=2)
    else:
        files["cifar-100-python/train"] = batch(200, "fine_labels", 0)
        files["cifar-100-python/test"] = batch(100, "fine_labels", 0)
        files["cifar-100-python/meta"] = pickle.dumps({"fine_label_names": [f"c{i}" for i in range(100)]}, protocol=2)
    return files


def targz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def unpickled(data: bytes) -> dict:
    return pickle.loads(data, encoding="latin1")


@pytest.fixture(scope="module")
def archive() -> bytes:
    return targz(official_files())


class Server:
    """A local HTTP server for one payload; honours Range requests unless told not to."""

    def __init__(self, payload: bytes) -> None:
        self.payload, self.honour_range, self.ranges = payload, True, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                start = 0
                header = self.headers.get("Range")
                server.ranges.append(header)
                if header and server.honour_range:
                    start = int(header.removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(server.payload) - 1}/{len(server.payload)}")
                else:
                    self.send_response(200)
                body = server.payload[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/cifar-10-python.tar.gz"


@pytest.fixture
def server(archive: bytes) -> Iterator[Server]:
    srv = Server(archive)
    thread = threading.Thread(target=srv.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def check_tiny(bundle, files: dict[str, bytes]) -> None:
    first = unpickled(files["cifar-10-batches-py/data_batch_1"])
    assert (len(bundle.train), len(bundle.test), bundle.val) == (5 * PER_BATCH, PER_BATCH, None)
    assert bundle.classes == NAMES
    assert torch.equal(bundle.train.images[:PER_BATCH], torch.from_numpy(first["data"]).view(-1, 3, 32, 32))
    assert bundle.train.labels[:PER_BATCH].tolist() == first["labels"]
    assert bundle.train.images.dtype == torch.uint8 and bundle.train.images.is_contiguous()


def test_npz_layout_of_the_real_data(shared_data: Path) -> None:
    folder = shared_data / "cifar10"
    if not (folder / "cifar10_train.npz").is_file():
        pytest.skip(f"CIFAR-10 npz not found in {folder}")
    bundle = load_data(f"cifar10:{folder}", limit=500, seed=1)
    assert (len(bundle.train), len(bundle.test), bundle.val) == (500, 500, None)
    assert bundle.train.labels.bincount().tolist() == [50] * 10, "limit must sample every class, not a prefix"
    assert bundle.test.labels.bincount().tolist() == [50] * 10
    assert bundle.classes == NAMES and bundle.input_size == (3, 32, 32)
    assert bundle.train.images.dtype == torch.uint8 and bundle.train.images.is_contiguous()
    assert bundle.preprocessing.mean == STATS["cifar10"][0] and bundle.preprocessing.std == STATS["cifar10"][1]
    mean = bundle.train.images.float().div(255).mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor(STATS["cifar10"][0]), atol=0.03)


def test_archive_in_dir_is_extracted_and_loaded(tmp_path: Path, archive: bytes) -> None:
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(archive)
    check_tiny(load_data(f"cifar10:{tmp_path}"), official_files())
    assert (tmp_path / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_extracted_copy(tmp_path: Path) -> None:
    files = official_files()
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    check_tiny(load_data(f"cifar10:{tmp_path}"), files)
    check_tiny(load_data(f"cifar10:{tmp_path / 'cifar-10-batches-py'}"), files)


def test_paper_split_is_90_10_and_stratified(tmp_path: Path, archive: bytes) -> None:
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(archive)
    bundle = load_data(f"cifar10:{tmp_path}", paper_split=True, seed=3)
    assert (len(bundle.train), len(bundle.val)) == (90, 10)
    assert bundle.val.labels.bincount().tolist() == [1] * 10
    again = load_data(f"cifar10:{tmp_path}", paper_split="true", seed=3)
    assert torch.equal(bundle.val.images, again.val.images)
    with pytest.raises(ResnetsError, match="not both"):
        load_data(f"cifar10:{tmp_path}", paper_split=True, val_fraction=0.2)


def test_download(tmp_path: Path, server: Server, archive: bytes) -> None:
    md5 = hashlib.md5(archive).hexdigest()
    bundle = load_data(f"cifar10:{tmp_path / 'new'}", download=True, url=server.url, md5=md5)
    check_tiny(bundle, official_files())
    assert (tmp_path / "new" / "cifar-10-python.tar.gz").read_bytes() == archive
    assert server.ranges == [None]


@pytest.mark.parametrize("honour_range", [True, False])
def test_download_resumes_a_partial_file(tmp_path: Path, server: Server, archive: bytes, honour_range: bool) -> None:
    server.honour_range = honour_range
    half = len(archive) // 2
    (tmp_path / "cifar-10-python.tar.gz.part").write_bytes(archive[:half])
    load_data(f"cifar10:{tmp_path}", download=True, url=server.url, md5=hashlib.md5(archive).hexdigest())
    assert server.ranges == [f"bytes={half}-"]
    assert (tmp_path / "cifar-10-python.tar.gz").read_bytes() == archive
    assert not (tmp_path / "cifar-10-python.tar.gz.part").exists()


def test_download_with_a_wrong_checksum_deletes_the_file(tmp_path: Path, server: Server) -> None:
    with pytest.raises(ResnetsError, match=r"md5 .* not 0123.*deleted"):
        load_data(f"cifar10:{tmp_path}", download=True, url=server.url, md5="0123456789abcdef0123456789abcdef")
    assert list(tmp_path.iterdir()) == []


def test_download_from_nowhere(tmp_path: Path) -> None:
    with pytest.raises(ResnetsError, match="cannot download"):
        load_data(f"cifar10:{tmp_path}", download=True, url="http://127.0.0.1:9/cifar-10-python.tar.gz")


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (f"touch {self.marker}",))


def test_a_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    files = official_files()
    marker = tmp_path / "pwned"
    files["cifar-10-batches-py/data_batch_1"] = pickle.dumps({"data": Exploit(marker), "labels": [0]}, protocol=2)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ResnetsError, match=r"data_batch_1 asks to load (posix|os|nt)\.system"):
        load_data(f"cifar10:{tmp_path}")
    assert not marker.exists()


def test_an_archive_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "data"
    target.mkdir()
    (target / "cifar-10-python.tar.gz").write_bytes(targz({"../escaped": b"x", **official_files()}))
    with pytest.raises(ResnetsError, match=r"unsafe member '../escaped'"):
        load_data(f"cifar10:{target}")
    assert not (tmp_path / "escaped").exists()


def test_cifar100_fine_labels(tmp_path: Path) -> None:
    (tmp_path / "cifar-100-python.tar.gz").write_bytes(targz(official_files(100)))
    bundle = load_data(f"cifar100:{tmp_path}", limit=100, seed=2)
    assert bundle.num_classes == 100 and bundle.classes[:2] == ["c0", "c1"]
    assert len(bundle.train) == 100 and bundle.train.labels.bincount(minlength=100).tolist() == [1] * 100
    assert bundle.preprocessing.mean == STATS["cifar100"][0]


def test_mistakes(tmp_path: Path) -> None:
    with pytest.raises(ResnetsError, match=r"no cifar10 data .*download=true"):
        load_data(f"cifar10:{tmp_path}")
    with pytest.raises(ResnetsError, match="does not exist"):
        load_data(f"cifar10:{tmp_path / 'missing'}")
    with pytest.raises(ResnetsError, match=r"does not take the option.*colour"):
        load_data(f"cifar10:{tmp_path}", colour="grey")
    with pytest.raises(ResnetsError, match="download must be true or false"):
        load_data(f"cifar10:{tmp_path}", download="maybe")
    np.savez(tmp_path / "cifar10_train.npz", images=np.zeros((1, 32, 32, 3), np.uint8))
    np.savez(tmp_path / "cifar10_test.npz", images=np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(ResnetsError, match=r"lacks the key\(s\) x, y \(it has: images\)"):
        load_data(f"cifar10:{tmp_path}")
