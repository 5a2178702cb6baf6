"""``serve()``: run the app of :mod:`resnets.serving.app` under uvicorn.

One worker process gets the app object; several (``workers > 1``) each build their own from settings
passed in an environment variable (uvicorn starts them by import string). Unless ``threads`` says
otherwise, workers split the CPU cores between them so they do not oversubscribe them: on CPU, PyTorch's
threads wait for each other at every layer, and a preempted one stalls them all (measured here on a busy
2-core machine: ResNet-20 at batch 1 ran 40 to 170 times slower on 2 threads than on 1).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from resnets.errors import ResnetsError

SETTINGS_ENV = "RESNETS_SERVE_SETTINGS"


def require_serving() -> None:
    """Raise one line naming the extra when FastAPI, uvicorn or python-multipart is missing."""
    for package, modules in (("fastapi", ["fastapi"]), ("uvicorn", ["uvicorn"]),
                             ("python-multipart", ["python_multipart", "multipart"])):
        if not any(importlib.util.find_spec(m) for m in modules):
            raise ResnetsError(f"serving needs {package}: pip install resnets[serve]")


def serve(
    checkpoint: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    threads: int | None = None,
    backend: str = "torch",
    log_level: str = "info",
    **options: Any,
) -> None:
    """Serve a checkpoint or run folder over HTTP until interrupted (``resnets serve``).

    Args:
        checkpoint: a checkpoint file or a run folder.
        host: the address to bind; the default answers this machine only.
        port: the TCP port (0: any free port, printed at start).
        workers: server processes, each with its own copy of the model.
        threads: CPU threads for inference in each worker (default: torch's, split between the workers).
        backend: ``torch`` or ``onnx``.
        log_level: uvicorn's log level.
        **options: the keyword arguments of :func:`resnets.serving.app.create_app` (``max_batch``,
            ``window_ms``, ``max_bytes``, ``max_files``, ``max_pixels``, ``top_k``, ``onnx_path``, ``device``, ``tta``).
    """
    require_serving()
    import torch
    import uvicorn

    from resnets.serving.app import create_app

    if workers < 1:
        raise ResnetsError(f"--workers must be at least 1, not {workers}.")
    if threads is not None and threads < 1:
        raise ResnetsError(f"--threads must be at least 1, not {threads}.")
    threads = threads or max(1, torch.get_num_threads() // workers)
    settings = {"checkpoint": str(checkpoint), "backend": backend, **options}
    if workers == 1:
        torch.set_num_threads(threads)  # unchanged unless asked: torch's default is the physical cores
        uvicorn.run(create_app(**settings), host=host, port=port, log_level=log_level)
        return
    create_app(**settings)  # fail here, once, on a bad checkpoint or option, not in every worker
    os.environ[SETTINGS_ENV] = json.dumps({**settings, "threads": threads}, default=str)
    uvicorn.run("resnets.serving.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)


def app_from_env() -> Any:
    """The app of one worker process, from the settings :func:`serve` left in the environment."""
    import torch

    from resnets.serving.app import create_app

    settings = json.loads(os.environ[SETTINGS_ENV])
    torch.set_num_threads(settings.pop("threads"))
    return create_app(**settings)
