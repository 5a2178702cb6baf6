"""Shared fixtures: seeded torch, and the real data sets in ``../shared/data`` (or ``$RESNETS_DATA``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data sets; tests that need it skip cleanly where it is absent."""
    root = Path(os.environ.get("RESNETS_DATA", REPO.parent / "shared" / "data"))
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set RESNETS_DATA)")
    return root
