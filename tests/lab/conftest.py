"""Lab tests run every study on the tiny data (16x16, 4 classes) with 8- and 14-layer nets of width 4."""

from __future__ import annotations

from pathlib import Path

import matplotlib.figure
import pytest
import tiny_data


@pytest.fixture(autouse=True)
def tiny_source():
    tiny_data.register()
    yield


@pytest.fixture
def saved_figures(monkeypatch) -> dict[str, matplotlib.figure.Figure]:
    """Every figure a study saves, by file name, so a test can read the data drawn in it."""
    saved: dict[str, matplotlib.figure.Figure] = {}
    original = matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        saved[Path(fname).name] = self
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return saved


@pytest.fixture(scope="session")
def degradation_run(tmp_path_factory) -> Path:
    """One tiny degradation study (plain-8 and ResNet-8, two epochs), shared by the studies that read it."""
    from resnets.lab import degradation

    tiny_data.register()
    out = tmp_path_factory.mktemp("lab") / "degradation"
    degradation("8", budget=2, out=out, progress=False, batch_size=64, **tiny_data.LAB)
    return out
