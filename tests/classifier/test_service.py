"""Classifier service end to end: real image bytes through preprocessing, batcher and ResNet101."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from classifier import (
    CLASSES,
    CheckpointError,
    Classifier,
    ClassifierClosed,
    ClassifierSettings,
    InferenceModel,
    InvalidImage,
    Verdict,
)
from classifier import model as model_module
from classifier.inference import InferenceLayout, InferencePools
from classifier.service import inference_pools
from tests import imagefactory as f
from tests.modelfactory import grey_jpeg

SETTINGS = ClassifierSettings(device="cpu", max_batch_size=8, max_wait_ms=10, warmup=False)


@pytest.fixture
async def classifier(bright_model: InferenceModel) -> AsyncIterator[Classifier]:
    async with Classifier(bright_model, SETTINGS) as classifier:
        yield classifier


async def test_bright_photo_is_a_meme_with_a_full_verdict(classifier: Classifier) -> None:
    data = grey_jpeg(245)
    verdict = await classifier.classify(data)
    assert isinstance(verdict, Verdict)
    assert verdict.label == "meme" and verdict.label in CLASSES
    assert tuple(verdict.probabilities) == CLASSES
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert verdict.confidence == max(verdict.probabilities.values()) > 0.5
    assert verdict.sha256 == hashlib.sha256(data).hexdigest()
    assert verdict.model_version == classifier.model_version == "brightness-test"


async def test_dark_photo_is_not_a_meme(classifier: Classifier) -> None:
    assert (await classifier.classify(grey_jpeg(10))).label == "not_meme"


async def test_real_photo_jpeg_classifies(classifier: Classifier) -> None:
    verdict = await classifier.classify(f.noisy_photo_jpeg(640, 480, seed=7))
    assert verdict.label in CLASSES


async def test_same_bytes_twice_is_answered_from_the_cache(classifier: Classifier) -> None:
    data = grey_jpeg(200, noise_seed=1)
    first = await classifier.classify(data)
    items_after_first = classifier.batcher_stats.items
    second = await classifier.classify(data)
    assert second == first
    assert classifier.batcher_stats.items == items_after_first  # the model was not asked again
    info = classifier.cache_info()
    assert (info.hits, info.misses, info.size) == (1, 1, 1)


async def test_concurrent_requests_for_one_image_share_one_computation(classifier: Classifier) -> None:
    data = grey_jpeg(180, noise_seed=2)
    verdicts = await asyncio.gather(*(classifier.classify(data) for _ in range(5)))
    assert all(v is verdicts[0] for v in verdicts) and len(set(verdicts)) == 1
    assert classifier.batcher_stats.items == 1
    assert classifier.cache_info().misses == 1


async def test_a_caller_giving_up_does_not_cancel_a_shared_computation(classifier: Classifier) -> None:
    data = grey_jpeg(230, noise_seed=3)
    impatient = asyncio.create_task(classifier.classify(data))
    patient = asyncio.create_task(classifier.classify(data))
    await asyncio.sleep(0)
    impatient.cancel()
    assert (await patient).label == "meme"
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_an_invalid_image_fails_alone_among_valid_ones(classifier: Classifier) -> None:
    inputs = [grey_jpeg(240, noise_seed=4), f.text_file(), grey_jpeg(15, noise_seed=5), f.truncated_jpeg()]
    results = await asyncio.gather(*(classifier.classify(d) for d in inputs), return_exceptions=True)
    assert isinstance(results[0], Verdict) and results[0].label == "meme"
    assert isinstance(results[2], Verdict) and results[2].label == "not_meme"
    assert isinstance(results[1], InvalidImage) and "not an image" in str(results[1])
    assert isinstance(results[3], InvalidImage) and "damaged" in str(results[3])


async def test_many_distinct_images_are_batched(classifier: Classifier) -> None:
    images = [grey_jpeg(240 if i % 2 else 20, noise_seed=100 + i) for i in range(12)]
    verdicts = await asyncio.gather(*(classifier.classify(d) for d in images))
    assert [v.label for v in verdicts] == ["not_meme", "meme"] * 6
    assert classifier.batcher_stats.max_batch_size > 1


async def test_a_lone_image_never_waits_out_max_wait(bright_model: InferenceModel) -> None:
    """The batcher waits for company only while other requests are being preprocessed."""
    async with Classifier(bright_model, dataclasses.replace(SETTINGS, max_wait_ms=60_000)) as classifier:
        lone = await asyncio.wait_for(classifier.classify(grey_jpeg(240, noise_seed=7)), 30)  # not a minute
        images = [grey_jpeg(240 if i % 2 else 20, noise_seed=200 + i) for i in range(6)]
        together = await asyncio.wait_for(asyncio.gather(*(classifier.classify(d) for d in images)), 30)
        stats = classifier.batcher_stats
    assert lone.label == "meme" and [v.label for v in together] == ["not_meme", "meme"] * 3
    assert stats.batches >= 2 and stats.max_batch_size > 1  # the six still shared a batch


async def test_animated_gif_verdict_is_the_mean_of_its_frames(classifier: Classifier) -> None:
    white, black = await asyncio.gather(
        classifier.classify(f.animated_gif([f.WHITE])), classifier.classify(f.animated_gif([f.BLACK]))
    )
    items_before = classifier.batcher_stats.items
    both = await classifier.classify(f.animated_gif([f.WHITE, f.BLACK], size=(32, 32)))
    assert classifier.batcher_stats.items - items_before == 2  # one batcher item per frame
    for name in CLASSES:
        expected = (white.probabilities[name] + black.probabilities[name]) / 2
        assert both.probabilities[name] == pytest.approx(expected, abs=1e-4)


async def test_thumbnail_is_a_small_rgb_jpeg(classifier: Classifier) -> None:
    data, width, height = await classifier.thumbnail(f.noisy_photo_jpeg(800, 400), max_side=100)
    assert (width, height) == (100, 50)
    assert Image.open(io.BytesIO(data)).format == "JPEG"
    with pytest.raises(InvalidImage):
        await classifier.thumbnail(f.text_file())


async def test_image_limits_come_from_the_settings(bright_model: InferenceModel) -> None:
    settings = dataclasses.replace(SETTINGS, max_image_bytes=100, max_pixels=10_000)
    async with Classifier(bright_model, settings) as classifier:
        with pytest.raises(InvalidImage, match="too large"):
            await classifier.classify(f.noisy_photo_jpeg(seed=9))
        with pytest.raises(InvalidImage, match="too many pixels"):
            await classifier.classify(f.bomb_png(200, 200))


async def test_close_finishes_accepted_work_then_refuses_more(bright_model: InferenceModel) -> None:
    classifier = Classifier(bright_model, SETTINGS)
    await classifier.start()
    pending = asyncio.create_task(classifier.classify(grey_jpeg(240, noise_seed=6)))
    await asyncio.sleep(0)
    await classifier.aclose()
    assert (await pending).label == "meme"
    await classifier.aclose()  # idempotent
    with pytest.raises(ClassifierClosed):
        await classifier.classify(grey_jpeg(240))
    with pytest.raises(ClassifierClosed):
        await classifier.thumbnail(grey_jpeg(240))


async def test_from_settings_loads_the_checkpoint_and_warms_up(bright_checkpoint: Path) -> None:
    settings = dataclasses.replace(SETTINGS, checkpoint=bright_checkpoint, warmup=True, max_batch_size=2)
    async with Classifier.from_settings(settings) as classifier:
        assert classifier.meta.input_size == 64 and classifier.settings is settings
        assert (await classifier.classify(grey_jpeg(250))).label == "meme"


def test_from_settings_without_a_checkpoint_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no classifier checkpoint configured"):
        Classifier.from_settings(SETTINGS)
    with pytest.raises(CheckpointError, match="not found"):
        Classifier.from_settings(dataclasses.replace(SETTINGS, checkpoint=tmp_path / "missing"))


async def test_the_model_loads_on_an_inference_thread_and_borrowed_pools_stay_up(
    bright_checkpoint: Path,
) -> None:
    threads: list[str] = []
    real_load = model_module.InferenceModel.from_checkpoint.__func__  # type: ignore[attr-defined]

    def recording_load(cls: type[InferenceModel], *args: object) -> InferenceModel:
        threads.append(threading.current_thread().name)
        return real_load(cls, *args)  # type: ignore[no-any-return]

    settings = dataclasses.replace(SETTINGS, checkpoint=bright_checkpoint)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(InferenceModel, "from_checkpoint", classmethod(recording_load))
        classifier = Classifier.from_settings(settings)
    async with classifier:
        await classifier.classify(f.jpeg_bytes())
    assert threads and threads[0].startswith("memebot-inference")
    # Pools handed in are the caller's: the classifier runs on them and leaves them running.
    with inference_pools(SETTINGS, torch.device("cpu")) as pools:
        model = pools.loader.submit(InferenceModel.from_checkpoint, bright_checkpoint, "cpu").result()
        async with Classifier(model, SETTINGS, pools=pools) as borrowed:
            await borrowed.classify(f.jpeg_bytes())
        assert (
            pools.workers.submit(lambda: threading.current_thread().name)
            .result()
            .startswith("memebot-inference")
        )


async def test_split_cpu_workers_one_thread_each_and_a_lone_image_on_all(
    bright_model: InferenceModel,
) -> None:
    settings = dataclasses.replace(SETTINGS, inference_workers=2, inference_threads=1)
    with inference_pools(settings, torch.device("cpu")) as pools:
        assert pools.layout == InferenceLayout(workers=2, threads=1, solo_threads=2)
        async with Classifier(bright_model, settings, pools=pools) as classifier:
            assert (await classifier.classify(grey_jpeg(240, noise_seed=11))).label == "meme"
            assert classifier.batcher_stats.solo == 1  # alone: it ran on the solo thread
            images = [grey_jpeg(240 if i % 2 else 20, noise_seed=300 + i) for i in range(8)]
            verdicts = await asyncio.gather(*(classifier.classify(d) for d in images))
        assert [v.label for v in verdicts] == ["not_meme", "meme"] * 4
        # Each thread keeps the count it set, even after running the model (torch sets a thread's
        # count from the process default the first time the thread asks, which must not undo it) ...
        both = threading.Barrier(2, timeout=10)

        def worker_threads() -> int:
            both.wait()  # two calls at once: one on each worker thread
            return torch.get_num_threads()

        assert [job.result() for job in [pools.workers.submit(worker_threads) for _ in range(2)]] == [1, 1]
        assert pools.solo is not None and pools.solo.submit(torch.get_num_threads).result() == 2
    # ... and a thread that starts using torch later runs it on one thread, not as a second team, even
    # when the last inference thread to start set itself to two.
    with InferencePools(InferenceLayout(workers=2, threads=1, solo_threads=2)) as fresh:
        assert fresh.solo is not None and fresh.solo.submit(torch.get_num_threads).result() == 2
    later: list[int] = []
    thread = threading.Thread(target=lambda: later.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert later == [1]
