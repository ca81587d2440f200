"""DynamicBatcher: gathers concurrent requests into batches for one synchronous worker function."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from classifier.errors import ClassifierClosed, Overloaded, RequestTimedOut

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)


class _Default(enum.Enum):
    TIMEOUT = enum.auto()


DEFAULT_TIMEOUT = _Default.TIMEOUT


@dataclass(frozen=True)
class BatcherStats:
    """Counters since start: batches run, items run, items dropped before running (timed out/cancelled)."""

    batches: int = 0
    items: int = 0
    dropped: int = 0
    max_batch_size: int = 0
    solo: int = 0  # batches run on the solo executor

    @property
    def mean_batch_size(self) -> float:
        return self.items / self.batches if self.batches else 0.0


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]


class DynamicBatcher(Generic[T, R]):
    """Batches `submit()`ed items for `fn`, which runs off the event loop on `workers` threads.

    A worker waits for a first item, then collects up to `max_batch_size` items or until
    `max_wait_ms` have passed since that first item, whichever comes first. `fn` returns one result
    per item, in order; a result that is an exception is raised to that item's caller alone, and if
    `fn` raises, every caller of that batch gets the exception while the worker carries on.

    With several `workers`, one collects at a time while the others run their batches, so batches
    fill as with one, for a device that runs batches faster side by side than one after another (a
    CPU whose cores are shared out among the workers). `solo_executor` (optional) is where a batch
    runs that has the device to itself: none running, none queued, none coming; no other batch
    starts until it ends (the Classifier's runs on every core, so a quiet bot answers at the speed
    of one batch on the whole CPU, a busy one at the speed of several side by side).

    `more_coming` (optional) tells the worker whether an item may still arrive soon: when the queue
    is empty while a batch is being collected and it returns False, the batch runs at once instead
    of waiting out `max_wait_ms` for company that cannot come (the Classifier answers "is another
    request being preprocessed?", so a lone image on a quiet bot never waits).

    The worker starts lazily on the first `submit()` (or explicitly with `start()`). Always finish
    with `aclose()`; nothing is cleaned up by the garbage collector.
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_batch_size: int = 16,
        max_wait_ms: float = 5.0,
        max_queue: int = 256,
        timeout_s: float | None = 30.0,
        executor: Executor | None = None,
        workers: int = 1,
        solo_executor: Executor | None = None,
        more_coming: Callable[[], bool] | None = None,
        name: str = "batcher",
    ) -> None:
        """`executor`: where `fn` runs, with `workers` threads or more (None: a pool of the batcher's own)."""
        if max_batch_size < 1 or max_queue < 1 or max_wait_ms < 0 or workers < 1:
            raise ValueError("max_batch_size, max_queue and workers must be >= 1 and max_wait_ms >= 0")
        self._fn = fn
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_ms / 1000.0
        self._max_queue = max_queue
        self._timeout_s = timeout_s
        self._more_coming = more_coming
        self._name = name
        self._workers = workers
        self._owns_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        # Unbounded on purpose: submit() enforces max_queue, so aclose() can always enqueue its stop
        # marker (None) behind the last accepted item.
        self._queue: asyncio.Queue[_Pending[T, R] | None] = asyncio.Queue()
        self._collecting = asyncio.Lock()  # one worker gathers a batch at a time
        self._solo_executor = solo_executor
        self._running = 0  # batches in fn now
        self._solo_done: asyncio.Future[None] | None = None  # while a solo batch runs
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._stats = BatcherStats()

    @property
    def stats(self) -> BatcherStats:
        return self._stats

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued(self) -> int:
        """Items waiting for a batch (withdrawn ones included until a worker skips them)."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Start the worker tasks now (optional: submit() starts them on first use)."""
        self._start()

    async def submit(self, item: T, *, timeout_s: float | _Default | None = DEFAULT_TIMEOUT) -> R:
        """Queue `item` and wait for its result; Overloaded, RequestTimedOut or ClassifierClosed."""
        future, timeout = self._enqueue(item, timeout_s)
        return await self._result(future, timeout)

    def submit_nowait(
        self, item: T, *, timeout_s: float | _Default | None = DEFAULT_TIMEOUT
    ) -> asyncio.Task[R]:
        """Queue `item` now, before returning (Overloaded or ClassifierClosed are raised here), and give
        a task for its result (RequestTimedOut); cancelling the task withdraws the item. Call it on
        the event loop. For callers that must know the item is queued, as a `more_coming` answer
        does: an item counted neither as coming nor as queued lets a batch close without it."""
        future, timeout = self._enqueue(item, timeout_s)
        task = asyncio.ensure_future(self._result(future, timeout))
        task.add_done_callback(lambda _: future.cancel())  # withdrawn even if cancelled before it ran
        return task

    def _start(self) -> None:
        if self._closed:
            raise ClassifierClosed(f"{self._name} is closed")
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._run(), name=f"{self._name}-worker-{i}")
                for i in range(self._workers)
            ]

    def _enqueue(self, item: T, timeout_s: float | _Default | None) -> tuple[asyncio.Future[R], float | None]:
        if self._closed:
            raise ClassifierClosed(f"{self._name} is closed")
        if self._queue.qsize() >= self._max_queue:
            raise Overloaded(f"{self._name} is overloaded ({self._max_queue} requests waiting)")
        self._start()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(item, future))
        return future, self._timeout_s if timeout_s is DEFAULT_TIMEOUT else timeout_s

    @staticmethod
    async def _result(future: asyncio.Future[R], limit_s: float | None) -> R:
        try:
            # On timeout or caller cancellation the future is cancelled; the worker then skips it.
            async with asyncio.timeout(limit_s):
                return await future
        except TimeoutError:
            if future.done() and not future.cancelled() and future.exception() is not None:
                raise  # fn itself raised a TimeoutError for this item
            raise RequestTimedOut(f"no result within {limit_s:g} s") from None

    async def aclose(self, *, drain: bool = True) -> None:
        """Stop taking items; finish (drain=True) or fail (drain=False) queued ones; await the workers."""
        if not self._closed:
            self._closed = True
            if not drain:
                self._fail_queued(ClassifierClosed(f"{self._name} closed before this request ran"))
            self._queue.put_nowait(None)
        if self._tasks:
            await asyncio.shield(asyncio.gather(*self._tasks))
        if self._owns_executor:
            self._executor.shutdown(wait=False)

    async def _run(self) -> None:
        try:
            while True:
                async with self._collecting:
                    batch, stop = await self._collect()
                    live = [p for p in batch if not p.future.done()]
                    self._record(dropped=len(batch) - len(live))
                    executor = self._claim(solo=self._alone()) if live else None
                if executor is not None:
                    try:
                        await self._run_batch(live, executor)
                    finally:
                        self._release(solo=executor is self._solo_executor)
                if stop:
                    return
        finally:
            # Empty after a normal stop; if a worker task was cancelled, no caller may wait forever.
            self._closed = True
            self._fail_queued(ClassifierClosed(f"{self._name} stopped"))
            self._queue.put_nowait(None)  # the stop marker, passed on to the other workers

    async def _collect(self) -> tuple[list[_Pending[T, R]], bool]:
        """Wait for a first item, then gather more until the batch is full or max_wait has passed."""
        first = await self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self._max_wait_s
        while len(batch) < self._max_batch_size:
            if self._queue.empty() and self._more_coming is not None and not self._more_coming():
                break
            try:
                async with asyncio.timeout_at(deadline):
                    entry = await self._queue.get()
            except TimeoutError:
                break
            if entry is None:
                return batch, True
            batch.append(entry)
        return batch, False

    def _alone(self) -> bool:
        """Would a batch starting now have the device to itself?"""
        return (
            self._solo_executor is not None
            and self._running == 0
            and self._queue.empty()
            and not (self._more_coming is not None and self._more_coming())
        )

    def _claim(self, *, solo: bool) -> Executor:
        """Count a batch as running; called on the event loop, as are _alone and _release."""
        self._running += 1
        if solo:
            self._solo_done = asyncio.get_running_loop().create_future()
            return self._solo_executor  # type: ignore[return-value]  # _alone() checked it
        return self._executor

    def _release(self, *, solo: bool) -> None:
        self._running -= 1
        if solo and self._solo_done is not None:
            self._solo_done.set_result(None)
            self._solo_done = None

    async def _run_batch(self, batch: list[_Pending[T, R]], executor: Executor) -> None:
        loop = asyncio.get_running_loop()
        if self._solo_done is not None and executor is not self._solo_executor:
            await asyncio.shield(self._solo_done)  # a solo batch has the device until it ends
        try:
            results = await loop.run_in_executor(executor, self._fn, [p.item for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self._name}: fn returned {len(results)} results for {len(batch)} items")
        except Exception as e:
            log.warning("%s: a batch of %d failed: %r", self._name, len(batch), e)
            results = [e] * len(batch)
        self._record(ran=len(batch), solo=executor is self._solo_executor)
        for pending, result in zip(batch, results, strict=True):
            if pending.future.done():
                continue  # the caller timed out or was cancelled while the batch ran
            if isinstance(result, BaseException):
                pending.future.set_exception(result)
            else:
                pending.future.set_result(result)

    def _fail_queued(self, error: Exception) -> None:
        while not self._queue.empty():
            entry = self._queue.get_nowait()
            if entry is not None and not entry.future.done():
                entry.future.set_exception(error)

    def _record(self, *, ran: int = 0, dropped: int = 0, solo: bool = False) -> None:
        s = self._stats
        self._stats = BatcherStats(
            batches=s.batches + (1 if ran else 0),
            items=s.items + ran,
            dropped=s.dropped + dropped,
            max_batch_size=max(s.max_batch_size, ran),
            solo=s.solo + (1 if solo else 0),
        )
