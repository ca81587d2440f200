"""Classifier: the async service the bot calls: cache, preprocessing pool, dynamic batcher, model."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import NamedTuple

import torch

from classifier.batcher import BatcherStats, DynamicBatcher
from classifier.errors import CheckpointError, ClassifierClosed, Overloaded, RequestTimedOut
from classifier.hashing import Fingerprint
from classifier.inference import InferenceLayout, InferencePools, inference_layout
from classifier.model import CheckpointMeta, InferenceModel, select_device
from classifier.preprocess import (
    DecodeLimits,
    fingerprint_of,
    is_heavy,
    make_thumbnail,
    preprocess_with_fingerprint,
)

# Hashing a big upload takes milliseconds; past this size it runs in the pool, not on the event loop.
_HASH_INLINE_MAX = 256 * 1024
# Longest that decoding one file may go on (DecodeLimits.max_decode_s), at most the request timeout.
_MAX_DECODE_S = 10.0


@dataclass(frozen=True)
class Verdict:
    """The answer for one image: winning label, its probability, and every class's probability."""

    label: str
    confidence: float
    model_version: str
    sha256: str
    probabilities: Mapping[str, float] = field(hash=False)  # read-only; left out of hash() only
    # What the picture looks like, for finding its reposts and near-duplicates (bot/moderation).
    fingerprint: Fingerprint | None = field(default=None, hash=False, compare=False, repr=False)


@dataclass(frozen=True)
class ClassifierSettings:
    checkpoint: Path | None = None
    device: str = "auto"
    precision: str = "auto"
    max_batch_size: int = 16
    max_wait_ms: float = 50.0  # waited only for requests still being preprocessed (see DynamicBatcher)
    max_queue: int = 256
    request_timeout_s: float = 30.0
    inference_workers: int = 0  # batches run side by side; 0: auto (see inference_layout)
    inference_threads: int = 0  # torch threads per worker on the CPU; 0: auto
    preprocess_workers: int = 2
    cache_size: int = 4096
    max_image_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_frames: int = 4
    warmup: bool = True


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    size: int
    maxsize: int


def decode_limits(settings: ClassifierSettings) -> DecodeLimits:
    """What decoding one upload may cost under these settings (the service's, the bench's, the
    Limits table's): all frames of a file share 2x max_pixels, and decoding stops after
    _MAX_DECODE_S or the request timeout, whichever is shorter."""
    return DecodeLimits(
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_pixels,
        max_frames=settings.max_frames,
        max_total_pixels=2 * settings.max_pixels,
        max_decode_s=min(_MAX_DECODE_S, settings.request_timeout_s),
    )


def inference_pools(settings: ClassifierSettings, device: torch.device) -> InferencePools:
    """The threads to load and run a model with these settings on (see classifier/inference.py)."""
    return InferencePools(inference_layout(device, settings.inference_workers, settings.inference_threads))


class Classifier:
    """Classifies image bytes concurrently: one model, one batcher, a preprocessing thread pool.

    Use as `async with Classifier(...) as c:` or call `start()` and, always, `aclose()`.
    """

    def __init__(
        self,
        model: InferenceModel,
        settings: ClassifierSettings,
        *,
        pools: InferencePools | None = None,
        owns_pools: bool = False,
    ) -> None:
        """`pools`: where the model runs, as made by inference_pools(), best the ones the model was
        loaded on (loading runs torch, and on the CPU a thread that has run torch on several threads
        slows the inference threads; see classifier/inference.py). They stay the caller's to shut
        down unless `owns_pools`. None: pools of the classifier's own."""
        self._model = model
        self._settings = settings
        self._limits = decode_limits(settings)
        self._pool = ThreadPoolExecutor(settings.preprocess_workers, thread_name_prefix="memebot-preprocess")
        # Animations and very large pictures decode in a lane of their own, so that however many of
        # them arrive, ordinary photos never wait behind them for a decoding thread.
        self._heavy_pool = ThreadPoolExecutor(1, thread_name_prefix="memebot-preprocess-heavy")
        self._owns_pools = owns_pools or pools is None
        self._pools = pools or inference_pools(settings, model.device)
        self._preprocessing = 0  # requests between the cache and the batcher (see _compute)
        self._batcher: DynamicBatcher[torch.Tensor, list[float]] = DynamicBatcher(
            self._predict_frames,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            max_queue=settings.max_queue,
            timeout_s=settings.request_timeout_s,
            executor=self._pools.workers,
            workers=self._pools.layout.workers,
            solo_executor=self._pools.solo,
            more_coming=lambda: self._preprocessing > 0,
            name="memebot-inference",
        )
        self._cache: OrderedDict[str, Verdict] = OrderedDict()
        self._in_flight: dict[str, asyncio.Task[Verdict]] = {}
        self._waiters: dict[str, int] = {}  # callers waiting on each in-flight task
        self._hits = 0
        self._misses = 0
        self._closed = False
        self._close_task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: ClassifierSettings) -> Classifier:
        """Load `settings.checkpoint` on `settings.device`; CheckpointError when none is configured."""
        if settings.checkpoint is None:
            raise CheckpointError(
                "no classifier checkpoint configured: set the classifier 'checkpoint' setting to a "
                "directory holding model.safetensors and model.json (as written by `memebot train`, or, "
                "untrained and only for testing, by classifier.model.random_checkpoint)"
            )
        device = select_device(settings.device)
        pools = inference_pools(settings, device)
        try:
            load = pools.loader.submit(
                InferenceModel.from_checkpoint, settings.checkpoint, device, settings.precision
            )
            return cls(load.result(), settings, pools=pools, owns_pools=True)
        except BaseException:
            pools.shutdown()
            raise

    @property
    def settings(self) -> ClassifierSettings:
        return self._settings

    @property
    def meta(self) -> CheckpointMeta:
        return self._model.meta

    @property
    def model_version(self) -> str:
        return self._model.meta.model_version

    @property
    def layout(self) -> InferenceLayout:
        return self._pools.layout

    @property
    def batcher_stats(self) -> BatcherStats:
        return self._batcher.stats

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._cache), self._settings.cache_size)

    async def start(self) -> None:
        """Start the batcher and, if configured, warm the model up on its inference thread."""
        self._check_open()
        await self._batcher.start()
        if self._settings.warmup:
            sizes = sorted({1, self._settings.max_batch_size})
            loop = asyncio.get_running_loop()
            # Side by side, so that every inference thread has run the model once.
            pools = [pool for pool, threads, _ in self._pools.groups() for _ in range(threads)]
            await asyncio.gather(*(loop.run_in_executor(pool, self._model.warmup, sizes) for pool in pools))

    async def classify(self, data: bytes) -> Verdict:
        """Verdict for image bytes; InvalidImage, Overloaded, RequestTimedOut or ClassifierClosed."""
        self._check_open()
        digest = await self._sha256(data)
        self._check_open()  # aclose() may have begun while we hashed
        cached = self._cache.get(digest)
        if cached is not None:
            self._cache.move_to_end(digest)
            self._hits += 1
            return cached
        task = self._in_flight.get(digest)
        if task is None:
            self._check_capacity()  # before decoding: an overloaded service must not decode at all
            self._misses += 1
            task = asyncio.create_task(self._compute(data, digest), name=f"classify-{digest[:12]}")
            self._in_flight[digest] = task
            task.add_done_callback(lambda t: self._finished(digest, t))
        else:
            self._hits += 1
        self._waiters[digest] = self._waiters.get(digest, 0) + 1
        try:
            # The deadline covers decoding as well as queueing and the model.
            async with asyncio.timeout(self._settings.request_timeout_s):
                # shield: one caller giving up must not cancel work other callers of the image share...
                return await asyncio.shield(task)
        except TimeoutError:
            if task.done() and not task.cancelled() and isinstance(task.exception(), TimeoutError):
                raise
            raise RequestTimedOut(f"no verdict within {self._settings.request_timeout_s:g} s") from None
        finally:
            left = self._waiters.get(digest, 1) - 1
            if left > 0:
                self._waiters[digest] = left
            else:
                self._waiters.pop(digest, None)
                if not task.done():
                    task.cancel()  # ...but once every caller has gone, nobody wants it: drop it

    def _check_capacity(self) -> None:
        waiting = self._preprocessing + self._batcher.queued
        if waiting >= self._settings.max_queue:
            raise Overloaded(f"{waiting} images are waiting (the limit is {self._settings.max_queue})")

    async def thumbnail(self, data: bytes, *, max_side: int = 512) -> tuple[bytes, int, int]:
        """A JPEG copy of the image (longest side <= max_side) with its width and height."""
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, lambda: make_thumbnail(data, max_side=max_side, limits=self._limits)
        )

    async def fingerprint(self, data: bytes) -> Fingerprint:
        """The first frame's fingerprint (the one a verdict carries), without the model."""
        self._check_open()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fingerprint_of(data, limits=self._limits))

    async def aclose(self) -> None:
        """Finish accepted requests, then stop the batcher and the thread pools; idempotent."""
        self._closed = True
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._close())
        await asyncio.shield(self._close_task)

    async def __aenter__(self) -> Classifier:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _close(self) -> None:
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        await self._batcher.aclose(drain=True)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._heavy_pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_pools:
            self._pools.shutdown()

    def _check_open(self) -> None:
        if self._closed:
            raise ClassifierClosed("the classifier is shut down")

    async def _sha256(self, data: bytes) -> str:
        if len(data) <= _HASH_INLINE_MAX:
            return hashlib.sha256(data).hexdigest()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: hashlib.sha256(data).hexdigest())

    async def _compute(self, data: bytes, digest: str) -> Verdict:
        loop = asyncio.get_running_loop()
        submits: list[asyncio.Task[list[float]]] = []
        self._preprocessing += 1  # while > 0, a batch being collected waits for this request
        try:
            try:
                pool = self._heavy_pool if is_heavy(data) else self._pool
                frames, looks = await loop.run_in_executor(pool, _frames, data, self.meta, self._limits)
                # Queued before the count drops: a request counted neither as coming nor as queued
                # would let a batch close without it (at 32 callers, groups of 16 split into 15 + 1).
                submits.extend(self._batcher.submit_nowait(frame) for frame in frames)
            finally:
                self._preprocessing -= 1
            rows = await asyncio.gather(*submits)
        except BaseException:
            for pending in submits:
                pending.cancel()  # also the frames of an animation queued before one was refused
            raise
        # The mean over an animation's frames; plain floats: no torch op on the event loop's thread.
        means = [sum(column) / len(rows) for column in zip(*rows, strict=True)]
        verdict = self._verdict(means, digest, looks)
        self._remember(digest, verdict)
        return verdict

    def _verdict(self, values: list[float], digest: str, looks: Fingerprint) -> Verdict:
        best = max(range(len(values)), key=values.__getitem__)
        return Verdict(
            label=self.meta.classes[best],
            confidence=values[best],
            model_version=self.model_version,
            sha256=digest,
            probabilities=MappingProxyType(dict(zip(self.meta.classes, values, strict=True))),
            fingerprint=looks,
        )

    def _predict_frames(self, frames: list[torch.Tensor]) -> Sequence[list[float]]:
        """Class probabilities per frame, as floats: made here, on the inference thread (see _frames)."""
        rows: list[list[float]] = self._model.predict(torch.stack(frames)).tolist()
        return rows

    def _remember(self, digest: str, verdict: Verdict) -> None:
        if self._settings.cache_size <= 0:
            return
        self._cache[digest] = verdict
        self._cache.move_to_end(digest)
        while len(self._cache) > self._settings.cache_size:
            self._cache.popitem(last=False)

    def _finished(self, digest: str, task: asyncio.Task[Verdict]) -> None:
        self._in_flight.pop(digest, None)
        if not task.cancelled():
            task.exception()  # mark retrieved: if every caller gave up, nobody else will look at it


def _frames(
    data: bytes, meta: CheckpointMeta, limits: DecodeLimits
) -> tuple[list[torch.Tensor], Fingerprint]:
    """preprocess(), split into frames in the pool: even small torch ops (unbind, stack, mean) took
    about 0.3 ms of the event loop's wall time per request at 128 callers (cProfile; waiting for the
    GIL and the cores, mostly), so it runs none."""
    batch, looks = preprocess_with_fingerprint(data, meta, limits)
    return list(batch.unbind(0)), looks
