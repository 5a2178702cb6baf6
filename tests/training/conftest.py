from __future__ import annotations

from pathlib import Path

import pytest
import tiny_data


@pytest.fixture(autouse=True)
def tiny_source():
    tiny_data.register()
    yield


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One short real run on the tiny data, shared by the tests that only read its outputs."""
    from resnets.training import train

    tiny_data.register()
    out = tmp_path_factory.mktemp("run") / "tiny-run"
    train("resnet20", "tiny", out=out, **tiny_data.FAST)
    return out
