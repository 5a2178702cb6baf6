"""A study's result: every number in one JSON file, the figures beside it, and its own report.

``result.json`` holds the study's name, the command that repeats it, the scale it ran at, its settings,
every number it measured (``numbers``, the data the figures are drawn from), tables of the headline
figures, the figures' files and captions, and the conclusions written from those numbers. ``report.html``
(self-contained: figures embedded) and ``report.md`` are rendered from the same record.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from resnets._version import __version__
from resnets.errors import ResnetsError

RESULT = "result.json"


@dataclass
class Table:
    """A small table of headline numbers (cells are numbers or text)."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class Figure:
    """A PNG file in the study's folder and what it shows."""

    file: str
    caption: str


@dataclass
class StudyResult:
    """One study's record (module docstring)."""

    study: str
    title: str
    command: str
    scale: dict[str, Any]
    settings: dict[str, Any]
    numbers: dict[str, Any]
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    conclusions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    version: str = __version__
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    folder: Path | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        return data

    def write(self, folder: Path) -> Path:
        """Write ``result.json``, ``report.html`` and ``report.md`` into ``folder``; returns the JSON's path."""
        from resnets.lab.render import write_report

        self.folder = folder
        path = folder / RESULT
        path.write_text(json.dumps(_finite(self.to_dict()), indent=1))
        write_report([self], folder, title=self.title)
        return path


def load_result(folder: str | Path) -> StudyResult:
    """The study result in ``folder`` (or the ``result.json`` given), with a clear error otherwise."""
    path = Path(folder)
    path = path / RESULT if path.is_dir() else path
    if not path.is_file():
        raise ResnetsError(f"no lab result at {path}; run a `resnets lab` study with --out {path.parent} first.")
    try:
        data = json.loads(path.read_text())
        result = StudyResult(
            **{k: v for k, v in data.items() if k not in ("tables", "figures")},
            tables=[Table(**t) for t in data.get("tables", [])],
            figures=[Figure(**f) for f in data.get("figures", [])],
        )
    except (json.JSONDecodeError, TypeError) as exc:
        raise ResnetsError(f"{path} is not a resnets lab result ({exc}).") from None
    result.folder = path.parent
    return result


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they are written as null (a diverged run's loss, say)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
