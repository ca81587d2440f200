"""/explain (Grad-CAM) and /memeify: heavy picture work on worker threads, a few jobs at a time.

Neither goes through the classifier's batcher: Grad-CAM needs gradients, so /explain loads its own
float32 copy of the checkpoint (lazily, on first use). Each command has its own small worker: a
semaphore admits `running` jobs at once onto that many threads, `waiting` more wait on the event loop,
and anything beyond gets a polite "busy" answer — classification never waits behind them.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from bot import replies
from bot.errors import UserError
from bot.events import CommandIssued, ImageRef
from bot.memeify import Meme, Memeifier
from classifier import CheckpointError, ClassifierSettings, DecodeLimits, InvalidImage
from classifier.explain import Explainer, Explanation

T = TypeVar("T")
Fetch = Callable[[ImageRef], Awaitable[bytes]]


class WorkerBusy(UserError):
    """Every running and waiting slot of a worker is taken."""


class BoundedWorker:
    """Runs blocking jobs on its own threads: `running` at once, `waiting` queued, the rest refused."""

    def __init__(self, name: str, *, running: int, waiting: int, busy_text: str) -> None:
        self._executor = ThreadPoolExecutor(running, thread_name_prefix=name)
        # Waiting happens on the semaphore, not in the executor's queue, so a cancelled caller leaves.
        self._slots = asyncio.Semaphore(running)
        self._capacity = running + waiting
        self._admitted = 0
        self._busy_text = busy_text

    async def run(self, job: Callable[[], T]) -> T:
        if self._admitted >= self._capacity:
            raise WorkerBusy(self._busy_text)
        self._admitted += 1
        try:
            async with self._slots:
                return await asyncio.get_running_loop().run_in_executor(self._executor, job)
        finally:
            self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class Lazy(Generic[T]):
    """Loads a value on first use, once, from whichever worker thread gets there first."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._load()
            return self._value


class ImagingCommands:
    """Answers /explain and /memeify with a picture (ChatContext.send_image)."""

    NAMES = frozenset({"explain", "memeify"})

    def __init__(
        self,
        *,
        fetch: Fetch,
        explainer: Callable[[], Explainer],
        memeifier: Callable[[], Memeifier],
        running: int = 1,
        waiting: int = 2,
        rng: random.Random | None = None,
    ) -> None:
        self._fetch = fetch
        self._explainer = Lazy(explainer)
        self._memeifier = Lazy(memeifier)
        self._explain_worker = BoundedWorker(
            "memebot-explain", running=running, waiting=waiting, busy_text=replies.EXPLAIN_BUSY
        )
        self._memeify_worker = BoundedWorker(
            "memebot-memeify", running=running, waiting=waiting, busy_text=replies.MEMEIFY_BUSY
        )
        self._rng = rng or random.Random()

    @classmethod
    def for_classifier(cls, settings: ClassifierSettings, *, fetch: Fetch) -> ImagingCommands:
        """Explain the classifier's own checkpoint, on its device, under its image limits."""
        limits = DecodeLimits(settings.max_image_bytes, settings.max_pixels, max_frames=1)
        checkpoint = settings.checkpoint

        def explainer() -> Explainer:
            if checkpoint is None:
                raise CheckpointError("no classifier checkpoint configured, so there is nothing to explain")
            return Explainer.from_checkpoint(checkpoint, device=settings.device, limits=limits)

        return cls(fetch=fetch, explainer=explainer, memeifier=lambda: Memeifier.load(limits))

    async def run(self, ev: CommandIssued) -> None:
        if ev.reply_to is None or not ev.reply_to.images:
            raise UserError(replies.IMAGING_USAGE[ev.name])
        images = ev.reply_to.images
        note = replies.first_of(len(images))
        data = await self._fetch(images[0])
        if ev.name == "explain":
            filename, png, caption = await self._explain(data)
        else:
            filename, png, caption = await self._memeify(data)
        reply_to = ev.message_id or ev.reply_to.message_id
        await ev.ctx.send_image(filename=filename, data=png, caption=caption + note, reply_to=reply_to)

    def close(self) -> None:
        self._explain_worker.close()
        self._memeify_worker.close()

    async def _explain(self, data: bytes) -> tuple[str, bytes, str]:
        def job() -> tuple[Explanation, bytes]:
            explanation = self._explainer.get().explain(data)
            return explanation, explanation.png()

        explanation, png = await _readable(self._explain_worker.run(job))
        return "explain.png", png, replies.explain_caption(explanation.label, explanation.confidence)

    async def _memeify(self, data: bytes) -> tuple[str, bytes, str]:
        rng = random.Random(self._rng.getrandbits(64))  # drawn here: Random is shared across threads

        def job() -> tuple[Meme, bytes]:
            meme = self._memeifier.get().make(data, rng)
            return meme, meme.encode("PNG")

        meme, png = await _readable(self._memeify_worker.run(job))
        return "meme.png", png, meme.summary()


async def _readable(job: Awaitable[T]) -> T:
    try:
        return await job
    except InvalidImage as exc:
        raise UserError(str(exc)) from None
