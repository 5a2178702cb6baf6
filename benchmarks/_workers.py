"""Timing workers: one long-lived process per library/venv, driven over stdin/stdout with JSON lines.

The benchmark scripts build each contender once inside its own worker (ours and plain PyTorch in this
venv or the peers' venv, Keras in the TensorFlow venv), then ask the workers in turn for timed windows,
so the contenders alternate within one run on one machine (these machines drift by up to 2x between
runs; ratios within a run are what count).

Protocol: the parent sends ``{"cmd": "setup", ...}`` then ``{"cmd": "time", "key": ..., "steps": n}``;
the worker answers one JSON line per command (``{"ok": true, "seconds": [...]}`` or ``{"error": ...}``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class Worker:
    """A worker process running ``module`` with ``python``."""

    name: str
    python: str
    module: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{HERE}", "PYTHONUNBUFFERED": "1", **self.env}
        self.proc = subprocess.Popen([self.python, str(HERE / self.module)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **message: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker {self.name} exited (status {self.proc.wait()})")
            if line.startswith("{"):
                reply = json.loads(line)
                if "error" in reply:
                    raise RuntimeError(f"worker {self.name}: {reply['error']}")
                return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # type: ignore[union-attr]
            self.proc.wait(timeout=60)


def serve(handlers: dict[str, Any]) -> None:
    """Worker side: answer commands from stdin until it closes."""
    for line in sys.stdin:
        message = json.loads(line)
        try:
            reply = handlers[message.pop("cmd")](**message)
            print(json.dumps({"ok": True, **(reply or {})}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)


def timer(built: dict[str, Any]) -> Any:
    """Worker side: the ``time`` command over a worker's built step functions (seconds per step)."""

    def time_steps(key: str, steps: int) -> dict[str, Any]:
        fn = built[key]
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        return {"seconds": (time.perf_counter() - start) / steps}

    return time_steps


def median(values: list[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, Any]:
    import platform

    return {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "python": platform.python_version()}
