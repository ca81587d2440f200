"""Hostile uploads must cost little and stall nobody else: every frame is checked before it is decoded,
decoding has a budget, slow files decode in a lane of their own, and overload or cancelled work never
reaches the decoder or the model (issue: faults from outside testing, items 1-3)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from classifier import Classifier, ClassifierSettings, InferenceModel, InvalidImage, Verdict
from classifier.errors import Overloaded, RequestTimedOut
from classifier.preprocess import DecodeLimits, decode_frames, is_heavy
from tests import imagefactory as f
from tests.modelfactory import grey_jpeg

SETTINGS = ClassifierSettings(device="cpu", max_batch_size=8, max_wait_ms=10, warmup=False)


def test_a_later_frame_larger_than_the_header_is_refused_before_it_is_decoded() -> None:
    data = f.growing_gif(header=(10, 10), later=(200, 200))
    with pytest.raises(InvalidImage, match="too many pixels"):
        decode_frames(data, DecodeLimits(max_pixels=10_000))
    assert len(decode_frames(data, DecodeLimits(max_pixels=40_000))) == 2  # within the limit: both frames


def test_frames_decoded_on_the_way_count_against_the_file_budget() -> None:
    # A 30x30 header, then 30 frames of 90x90 (8,100 pixels each, under the per-frame limit): sampling
    # plans by the header's size, and reaching the last frame would decode 250,000 pixels.
    data = f.growing_gif(header=(30, 30), later=(90, 90), frames=30)
    limits = DecodeLimits(max_pixels=10_000, max_total_pixels=50_000, max_frames=4)
    with pytest.raises(InvalidImage, match="frames have too many pixels"):
        decode_frames(data, limits)
    # When the header tells the truth, the sampling stays within the budget by itself.
    honest = f.growing_gif(header=(90, 90), later=(90, 90), frames=30)
    assert len(decode_frames(honest, limits)) == 4


def test_decoding_stops_between_frames_when_it_takes_too_long() -> None:
    data = f.growing_gif(header=(64, 64), later=(64, 64), frames=6)
    with pytest.raises(InvalidImage, match="too long to decode"):
        decode_frames(data, DecodeLimits(max_decode_s=0.0))


def test_animations_and_big_pictures_are_heavy_and_photos_are_not() -> None:
    assert is_heavy(f.animated_gif()) and is_heavy(f.animated_webp()) and is_heavy(f.growing_gif())
    assert not is_heavy(f.noisy_photo_jpeg(640, 480)) and not is_heavy(f.png_bytes())
    assert not is_heavy(f.text_file()) and not is_heavy(b"")
    assert is_heavy(f.bomb_png(5000, 5000))  # 25 megapixels of PNG, from its header


@contextmanager
def held(pool: ThreadPoolExecutor, threads: int) -> Iterator[None]:
    """Every one of `threads` threads of `pool` busy until the block ends."""
    release, started = threading.Event(), threading.Barrier(threads + 1)

    def hold() -> None:
        started.wait()
        release.wait()

    futures = [pool.submit(hold) for _ in range(threads)]
    started.wait()
    try:
        yield
    finally:
        release.set()
        for future in futures:
            future.result()


@pytest.fixture
async def classifier(bright_model: InferenceModel) -> AsyncIterator[Classifier]:
    settings = dataclasses.replace(SETTINGS, request_timeout_s=1.0, max_queue=4)
    async with Classifier(bright_model, settings) as classifier:
        yield classifier


async def test_a_photo_gets_its_verdict_while_slow_animations_hold_their_lane(classifier: Classifier) -> None:
    with held(classifier._heavy_pool, 1):
        gif = asyncio.create_task(classifier.classify(f.animated_gif()))
        verdict = await asyncio.wait_for(classifier.classify(grey_jpeg(240, noise_seed=31)), 10)
        assert isinstance(verdict, Verdict) and verdict.label == "meme"
        # The request timeout covers decoding too: the animation's caller is not kept waiting.
        with pytest.raises(RequestTimedOut):
            await asyncio.wait_for(gif, 10)


async def test_overload_is_refused_before_decoding(classifier: Classifier) -> None:
    with held(classifier._pool, 2):
        waiting = [
            asyncio.create_task(classifier.classify(grey_jpeg(240, noise_seed=40 + i))) for i in range(4)
        ]
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded):  # at once, not after a decoding thread frees up
            await asyncio.wait_for(classifier.classify(grey_jpeg(240, noise_seed=50)), 0.5)
    assert all(isinstance(v, Verdict) for v in await asyncio.gather(*waiting))


async def test_requests_every_caller_gave_up_on_never_reach_the_model(bright_model: InferenceModel) -> None:
    async with Classifier(bright_model, SETTINGS) as classifier:
        with held(classifier._pool, 2):
            tasks = [
                asyncio.create_task(classifier.classify(grey_jpeg(240, noise_seed=60 + i))) for i in range(8)
            ]
            await asyncio.sleep(0.05)
            for task in tasks[::2]:
                task.cancel()
        kept = await asyncio.gather(*tasks[1::2])
        await asyncio.sleep(0.05)
        assert all(v.label == "meme" for v in kept)
        assert classifier.batcher_stats.items == 4  # the four cancelled ones were never computed
