"""The micro-batcher alone, with a stand-in model that records its calls."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
import torch

from resnets.serving.batcher import MicroBatcher


class Model:
    """Doubles its input; records each batch size; fails on a batch holding a negative number."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[int] = []
        self.delay = delay

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.delay:
            time.sleep(self.delay)
        self.calls.append(len(x))
        if (x < 0).any():
            raise ValueError("negative input")
        return x * 2


async def run_all(batcher: MicroBatcher, inputs: list[torch.Tensor]) -> list[torch.Tensor | BaseException]:
    await batcher.start()
    try:
        return await asyncio.gather(*[batcher.submit(x) for x in inputs], return_exceptions=True)
    finally:
        await batcher.stop()


def one(value: float, n: int = 1) -> torch.Tensor:
    return torch.full((n, 2), float(value))


def test_concurrent_requests_share_one_call_and_get_their_own_rows() -> None:
    model = Model()
    inputs = [one(i, n=1 + i % 3) for i in range(10)]
    out = asyncio.run(run_all(MicroBatcher(model, max_batch=64, window_ms=50), inputs))
    assert model.calls == [sum(len(x) for x in inputs)]
    for x, y in zip(inputs, out, strict=True):
        assert torch.equal(y, x * 2)


def test_max_batch_bounds_each_call_and_a_large_request_runs_alone_unsplit() -> None:
    model = Model()
    inputs = [one(1), one(2), one(3), one(4, n=7), one(5), one(6)]
    out = asyncio.run(run_all(MicroBatcher(model, max_batch=3, window_ms=50), inputs))
    assert model.calls == [3, 7, 2]
    assert torch.equal(out[3], one(8, n=7))


def test_max_batch_one_means_one_call_per_request() -> None:
    model = Model()
    asyncio.run(run_all(MicroBatcher(model, max_batch=1, window_ms=50), [one(i) for i in range(5)]))
    assert model.calls == [1] * 5


def test_a_full_batch_does_not_wait_out_the_window() -> None:
    model = Model()
    start = time.perf_counter()
    asyncio.run(run_all(MicroBatcher(model, max_batch=4, window_ms=60_000), [one(i) for i in range(4)]))
    assert model.calls == [4] and time.perf_counter() - start < 30


def test_the_window_is_waited_only_while_other_requests_are_on_their_way() -> None:
    async def lone(window_ms: float, others_coming: bool) -> float:
        batcher = MicroBatcher(Model(), max_batch=8, window_ms=window_ms)
        await batcher.start()
        start = time.perf_counter()
        with batcher.incoming() if others_coming else contextlib.nullcontext():
            await batcher.submit(one(1))
        elapsed = time.perf_counter() - start
        await batcher.stop()
        return elapsed

    assert asyncio.run(lone(200, others_coming=True)) >= 0.2
    assert asyncio.run(lone(60_000, others_coming=False)) < 30


def test_an_incoming_request_joins_the_batch_it_was_awaited_for() -> None:
    async def main() -> list[int]:
        model = Model()
        batcher = MicroBatcher(model, max_batch=8, window_ms=60_000)
        await batcher.start()

        async def slow_client() -> torch.Tensor:
            with batcher.incoming():
                await asyncio.sleep(0.1)
            return await batcher.submit(one(2))

        async def fast_client() -> torch.Tensor:
            with batcher.incoming():
                pass
            return await batcher.submit(one(1))

        slow = asyncio.create_task(slow_client())
        await asyncio.sleep(0)
        await asyncio.gather(fast_client(), slow)
        await batcher.stop()
        return model.calls

    assert asyncio.run(main()) == [2]


def test_a_failing_batch_fails_only_the_bad_request_and_the_worker_goes_on() -> None:
    async def main() -> tuple[list, torch.Tensor, list[int]]:
        model = Model()
        batcher = MicroBatcher(model, max_batch=8, window_ms=50)
        await batcher.start()
        out = await asyncio.gather(*[batcher.submit(one(v)) for v in (1, -1, 2)], return_exceptions=True)
        after = await batcher.submit(one(3))
        await batcher.stop()
        return out, after, model.calls

    out, after, calls = asyncio.run(main())
    assert isinstance(out[1], ValueError) and torch.equal(out[0], one(2)) and torch.equal(out[2], one(4))
    assert torch.equal(after, one(6)) and calls == [3, 1, 1, 1, 1]


def test_the_event_loop_stays_free_while_the_model_runs() -> None:
    async def main() -> int:
        batcher = MicroBatcher(Model(delay=0.5), max_batch=8, window_ms=0)
        await batcher.start()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        await batcher.submit(one(1))
        ticker.cancel()
        await batcher.stop()
        return ticks

    assert asyncio.run(main()) >= 10


def test_a_cancelled_request_is_dropped_before_the_model_runs() -> None:
    async def main() -> tuple[list[int], torch.Tensor]:
        model = Model()
        batcher = MicroBatcher(model, max_batch=8, window_ms=100)
        await batcher.start()
        gone = asyncio.create_task(batcher.submit(one(1, n=3)))
        await asyncio.sleep(0)
        gone.cancel()
        kept = await batcher.submit(one(2))
        await batcher.stop()
        return model.calls, kept

    calls, kept = asyncio.run(main())
    assert calls == [1] and torch.equal(kept, one(4))


def test_stop_fails_waiting_requests_and_submit_needs_start() -> None:
    async def main() -> BaseException | torch.Tensor:
        batcher = MicroBatcher(Model(), max_batch=8, window_ms=60_000)
        with pytest.raises(RuntimeError, match="not running"):
            await batcher.submit(one(1))
        await batcher.start()
        with batcher.incoming():  # another request on its way: the batch waits out its window for it
            waiting = [asyncio.create_task(batcher.submit(one(i))) for i in range(2)]
            await asyncio.sleep(0.05)
            await batcher.stop()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        return results[0]

    result = asyncio.run(main())
    assert isinstance(result, RuntimeError) and "shutting down" in str(result)


@pytest.mark.parametrize(("kwargs", "message"), [({"max_batch": 0}, "max_batch"), ({"window_ms": -1}, "window_ms")])
def test_bad_settings_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MicroBatcher(Model(), **kwargs)
