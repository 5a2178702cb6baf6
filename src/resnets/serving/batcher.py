"""Micro-batching: requests that arrive together share one model call.

One worker task takes the first waiting request, then gathers more for at most ``window_ms`` or until
``max_batch`` images are together, and runs the model once on all of them in a single inference thread,
so the event loop keeps accepting and decoding requests meanwhile. Requests that queued while a batch ran
are taken at once, so under load batches fill up without waiting out the window. The window is waited
only while other requests are on their way (inside :meth:`MicroBatcher.incoming`: being read or decoded),
so a lone client pays no latency for it. ``max_batch=1`` turns batching off (one model call per request,
in arrival order).

A request is never split: one holding more than ``max_batch`` images runs alone. A batch that raises is
retried request by request, so a bad request fails alone and the worker keeps running. Requests whose
caller went away (a cancelled future) are dropped before the model runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch


@dataclass
class _Request:
    images: torch.Tensor
    future: asyncio.Future[torch.Tensor]


@dataclass
class BatchStats:
    """Counts since the start: model calls, the images and requests they served, the largest batch."""

    batches: int = 0
    images: int = 0
    requests: int = 0
    largest: int = 0

    def to_dict(self) -> dict[str, object]:
        mean = self.images / self.batches if self.batches else 0.0
        return {"batches": self.batches, "images": self.images, "requests": self.requests,
                "largest_batch": self.largest, "mean_batch": round(mean, 3)}


class MicroBatcher:
    """Gathers concurrent :meth:`submit` calls into batches for ``run`` (module docstring).

    Args:
        run: maps a batch ``(N, ...)`` to outputs ``(N, ...)``; called in a worker thread.
        max_batch: the most images in one call of ``run``.
        window_ms: how long the first request of a batch waits for company.
    """

    def __init__(self, run: Callable[[torch.Tensor], torch.Tensor], *, max_batch: int = 32,
                 window_ms: float = 5.0) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}.")
        if window_ms < 0:
            raise ValueError(f"window_ms must be zero or more, not {window_ms}.")
        self.run, self.max_batch, self.window = run, max_batch, window_ms / 1000
        self.stats = BatchStats()
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._held: _Request | None = None
        self._current: list[_Request] = []
        self._incoming = 0
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the worker on the running event loop."""
        if self.running:
            return
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="resnets-inference")
        self._task = asyncio.create_task(self._work(), name="resnets-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting or running fail with a ``RuntimeError``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        waiting = [*self._current, *([self._held] if self._held else [])]
        self._current, self._held = [], None
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for request in waiting:
            if not request.future.done():
                request.future.set_exception(RuntimeError("the server is shutting down."))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Mark a request on its way to :meth:`submit` (leave before submitting), so batches wait for it."""
        self._incoming += 1
        try:
            yield
        finally:
            self._incoming -= 1

    async def submit(self, images: torch.Tensor) -> torch.Tensor:
        """The outputs of ``run`` for ``images`` (a batch of one or more), computed with other requests."""
        if not self.running:
            raise RuntimeError("the batcher is not running; call start() first.")
        if len(images) == 0:
            raise ValueError("submit at least one image.")
        future: asyncio.Future[torch.Tensor] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(images, future))
        return await future

    async def _work(self) -> None:
        while True:
            await self._gather()
            await self._run([r for r in self._current if not r.future.done()])
            self._current = []

    async def _gather(self) -> None:
        first = self._held or await self._queue.get()
        self._held = None
        self._current = batch = [first]
        size = len(first.images)
        deadline = asyncio.get_running_loop().time() + self.window
        while size < self.max_batch:
            try:
                if self._queue.empty():
                    if not self._incoming:
                        break
                    async with asyncio.timeout_at(deadline):
                        request = await self._queue.get()
                else:
                    request = self._queue.get_nowait()
            except TimeoutError:
                break
            if size + len(request.images) > self.max_batch:
                self._held = request
                break
            batch.append(request)
            size += len(request.images)

    async def _run(self, batch: list[_Request]) -> None:
        if not batch:
            return
        assert self._executor is not None
        sizes = [len(r.images) for r in batch]
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(self._executor, self._call, [r.images for r in batch])
        except Exception as exc:
            if len(batch) > 1:
                for request in batch:
                    await self._run([request])
                return
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        self.stats.batches += 1
        self.stats.images += sum(sizes)
        self.stats.requests += len(batch)
        self.stats.largest = max(self.stats.largest, sum(sizes))
        for request, out in zip(batch, outputs.split(sizes), strict=True):
            if not request.future.done():
                request.future.set_result(out)

    def _call(self, parts: list[torch.Tensor]) -> torch.Tensor:
        x = parts[0] if len(parts) == 1 else torch.cat(parts)
        out = self.run(x)
        if len(out) != len(x):
            raise RuntimeError(f"the model returned {len(out)} outputs for {len(x)} inputs.")
        return out
