"""DynamicBatcher behaviour with plain Python functions: batching, limits, failures, cancellation, close."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from classifier.batcher import DynamicBatcher
from classifier.errors import ClassifierClosed, Overloaded, RequestTimedOut


class Recorder:
    """A batch function that doubles numbers, remembers every batch, and can be held mid-batch."""

    def __init__(self, *, hold: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(list(items))
        self.started.set()
        assert self.release.wait(10), "test never released the batch"
        return [x * 2 for x in items]

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10)

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


async def test_concurrent_submits_form_batches() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch_size=4, max_wait_ms=50)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    await batcher.aclose()
    assert results == [i * 2 for i in range(10)]
    assert max(fn.sizes) == 4 and sum(fn.sizes) == 10 and len(fn.sizes) <= 4
    assert batcher.stats.batches == len(fn.sizes) and batcher.stats.items == 10
    assert batcher.stats.mean_batch_size == pytest.approx(10 / len(fn.sizes))


async def test_a_lone_item_waits_only_about_max_wait() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch_size=16, max_wait_ms=5)
    start = time.perf_counter()
    assert await batcher.submit(21) == 42
    assert time.perf_counter() - start < 1.0
    await batcher.aclose()
    assert fn.sizes == [1]


async def test_a_lone_item_does_not_wait_when_nothing_more_is_coming() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch_size=16, max_wait_ms=60_000, more_coming=lambda: False)
    assert await asyncio.wait_for(batcher.submit(21), 10) == 42  # not a minute
    await batcher.aclose()
    assert fn.sizes == [1]


async def test_items_still_coming_are_waited_for() -> None:
    fn = Recorder()
    coming = 3
    batcher = DynamicBatcher(fn, max_batch_size=16, max_wait_ms=60_000, more_coming=lambda: coming > 0)

    async def late(i: int) -> int:
        nonlocal coming
        await asyncio.sleep(0.01 * i)
        coming -= 1
        return await batcher.submit(i)

    assert await asyncio.wait_for(asyncio.gather(batcher.submit(0), *(late(i) for i in (1, 2, 3))), 10) == [
        0,
        2,
        4,
        6,
    ]
    await batcher.aclose()
    assert fn.sizes == [4]  # the first item waited for the three announced ones, then ran at once


async def test_submit_nowait_queues_before_it_returns() -> None:
    """An item handed over with submit_nowait is queued at once, so `more_coming` may drop right after
    without a batch being collected closing before the item is in it."""
    fn = Recorder()
    coming = True
    batcher = DynamicBatcher(fn, max_batch_size=16, max_wait_ms=60_000, more_coming=lambda: coming)
    first = batcher.submit_nowait(1)
    await asyncio.sleep(0.01)  # the worker has taken item 1 and waits for more
    second = batcher.submit_nowait(2)  # wakes the worker ...
    third = batcher.submit_nowait(3)  # ... which must find this one queued too
    coming = False
    assert await asyncio.wait_for(asyncio.gather(first, second, third), 10) == [2, 4, 6]
    await batcher.aclose()
    assert fn.batches == [[1, 2, 3]]


async def test_submit_nowait_refuses_at_once_and_cancelling_its_task_withdraws_the_item() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0, max_queue=1)
    running = batcher.submit_nowait(1)
    await fn.wait_started()
    queued = batcher.submit_nowait(2)
    with pytest.raises(Overloaded):
        batcher.submit_nowait(3)  # raised by the call itself, not by a task
    queued.cancel()  # withdraws item 2
    fn.release.set()
    assert await running == 2
    await batcher.aclose()
    assert fn.batches == [[1]] and queued.cancelled()


async def test_batch_size_one_never_batches() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=50)
    await asyncio.gather(*(batcher.submit(i) for i in range(5)))
    await batcher.aclose()
    assert fn.sizes == [1, 1, 1, 1, 1]


async def test_full_queue_raises_overloaded_immediately() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0, max_queue=2)
    running = asyncio.create_task(batcher.submit(1))
    await fn.wait_started()  # the worker holds item 1; the queue is empty again
    queued = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    with pytest.raises(Overloaded, match="overloaded"):
        await batcher.submit(4)
    fn.release.set()
    assert [await running, *[await q for q in queued]] == [2, 4, 6]
    await batcher.aclose()


async def test_deadline_raises_and_the_queued_item_is_skipped() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0)
    running = asyncio.create_task(batcher.submit(1))
    await fn.wait_started()
    with pytest.raises(RequestTimedOut):
        await batcher.submit(2, timeout_s=0.05)
    fn.release.set()
    assert await running == 2
    assert await batcher.submit(3) == 6
    await batcher.aclose()
    assert fn.batches == [[1], [3]]  # item 2 never reached the function
    assert batcher.stats.dropped == 1


@pytest.mark.parametrize("nowait", [False, True])
async def test_default_timeout_applies_to_submit(nowait: bool) -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0, timeout_s=0.05)
    with pytest.raises(RequestTimedOut):
        await (batcher.submit_nowait(1) if nowait else batcher.submit(1))
    fn.release.set()
    await batcher.aclose()


async def test_cancelled_callers_do_not_break_the_batch_or_the_worker() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=4, max_wait_ms=0)
    in_batch = asyncio.create_task(batcher.submit(1))
    await fn.wait_started()
    waiting = [asyncio.create_task(batcher.submit(i)) for i in (2, 3, 4)]
    await asyncio.sleep(0)
    in_batch.cancel()  # its item is being computed right now
    waiting[0].cancel()  # its item is still queued
    fn.release.set()
    assert [await waiting[1], await waiting[2]] == [6, 8]
    for task in (in_batch, waiting[0]):
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await batcher.submit(5) == 10  # the worker is alive
    await batcher.aclose()
    assert [2] not in fn.batches and all(2 not in b for b in fn.batches)


async def test_an_exception_result_fails_only_its_own_caller() -> None:
    def fn(items: list[int]) -> list[int | BaseException]:
        return [ValueError(f"bad item {x}") if x < 0 else x * 2 for x in items]

    batcher = DynamicBatcher(fn, max_batch_size=8, max_wait_ms=20)
    results = await asyncio.gather(*(batcher.submit(x) for x in (1, -1, 3)), return_exceptions=True)
    await batcher.aclose()
    assert results[0] == 2 and results[2] == 6
    assert isinstance(results[1], ValueError) and str(results[1]) == "bad item -1"
    assert batcher.stats.batches == 1  # all three really were in the same batch


async def test_fn_raising_fails_that_batch_but_the_next_batch_works() -> None:
    calls = 0

    def fn(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("model exploded")
        return [x + 1 for x in items]

    batcher = DynamicBatcher(fn, max_batch_size=8, max_wait_ms=20)
    first = await asyncio.gather(*(batcher.submit(x) for x in (1, 2)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in first)
    assert await batcher.submit(10) == 11
    await batcher.aclose()


async def test_fn_returning_the_wrong_number_of_results_fails_the_batch() -> None:
    batcher: DynamicBatcher[int, int] = DynamicBatcher(lambda items: [], max_batch_size=2, max_wait_ms=0)
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        await batcher.submit(1)
    await batcher.aclose()


async def test_aclose_with_drain_finishes_queued_items() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0)
    tasks = [asyncio.create_task(batcher.submit(i)) for i in (1, 2, 3)]
    await fn.wait_started()
    closing = asyncio.create_task(batcher.aclose(drain=True))
    await asyncio.sleep(0.01)
    with pytest.raises(ClassifierClosed):
        await batcher.submit(9)
    fn.release.set()
    await closing
    assert [await t for t in tasks] == [2, 4, 6]


async def test_aclose_without_drain_fails_queued_items_and_finishes_the_running_batch() -> None:
    fn = Recorder(hold=True)
    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0)
    running = asyncio.create_task(batcher.submit(1))
    await fn.wait_started()
    queued = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0)
    closing = asyncio.create_task(batcher.aclose(drain=False))
    for task in queued:
        with pytest.raises(ClassifierClosed):
            await task
    fn.release.set()
    await closing
    assert await running == 2
    assert fn.batches == [[1]]


async def test_close_is_idempotent_and_submit_or_start_afterwards_is_refused() -> None:
    batcher = DynamicBatcher(Recorder(), max_batch_size=2)
    assert await batcher.submit(1) == 2
    await batcher.aclose()
    await batcher.aclose()
    assert batcher.closed
    with pytest.raises(ClassifierClosed):
        await batcher.submit(2)
    with pytest.raises(ClassifierClosed):
        await batcher.start()


async def test_close_before_any_submit() -> None:
    batcher = DynamicBatcher(Recorder())
    await batcher.aclose(drain=False)
    with pytest.raises(ClassifierClosed):
        await batcher.submit(1)


async def test_workers_run_batches_side_by_side() -> None:
    lock, running, most = threading.Lock(), 0, 0
    both_started = threading.Event()

    def fn(items: list[int]) -> list[int]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                both_started.set()
        both_started.wait(10)  # a batch returns only once another has run beside it (or after 10 s)
        with lock:
            running -= 1
        return [x * 2 for x in items]

    batcher = DynamicBatcher(fn, max_batch_size=1, max_wait_ms=0, workers=2)
    assert await asyncio.wait_for(asyncio.gather(*(batcher.submit(i) for i in range(4))), 30) == [0, 2, 4, 6]
    await batcher.aclose()
    assert most == 2 and batcher.stats.batches == 4


async def test_a_batch_alone_runs_solo_and_the_next_waits_until_it_ends() -> None:
    fn = Recorder(hold=True)
    threads: list[str] = []
    solo = ThreadPoolExecutor(1, thread_name_prefix="solo")

    def recording(items: list[int]) -> Sequence[int | BaseException]:
        threads.append(threading.current_thread().name)
        return fn(items)

    batcher = DynamicBatcher(
        recording, max_batch_size=4, max_wait_ms=0, workers=2, solo_executor=solo, more_coming=lambda: False
    )
    alone = asyncio.create_task(batcher.submit(1))
    await fn.wait_started()
    later = [asyncio.create_task(batcher.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0.1)
    assert fn.batches == [[1]]  # the solo batch has the device: the next one waits, on a free worker
    fn.release.set()
    assert await alone == 2 and [await t for t in later] == [4, 6]
    await batcher.aclose()
    solo.shutdown()
    assert fn.batches == [[1], [2, 3]]
    # The second batch was collected while the first ran, so it was not alone: a worker ran it.
    assert threads[0].startswith("solo") and threads[1].startswith("batcher")
    assert batcher.stats.solo == 1 and batcher.stats.batches == 2


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        DynamicBatcher(Recorder(), max_batch_size=0)
    with pytest.raises(ValueError):
        DynamicBatcher(Recorder(), workers=0)
