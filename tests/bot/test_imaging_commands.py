"""/explain and /memeify through the core and a fake chat: pictures back, clear answers, bounded work."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.adapters.console import ConsoleChat
from bot.config import Config
from bot.core import BotCore
from bot.events import ImageRef
from bot.imaging_commands import BoundedWorker, ImagingCommands, WorkerBusy
from bot.memeify import Memeifier
from classifier import Classifier, DecodeLimits
from classifier.explain import Explainer, Explanation
from storage import Repository
from tests.bot.fakechat import FakeChat, Harness
from tests.modelfactory import meme_jpeg

FACE_PHOTO = (Path(__file__).resolve().parents[1] / "imaging" / "data" / "astronaut.jpg").read_bytes()


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "PNG"
        return img.size


async def test_explain_replies_with_a_heatmap_picture(bot: Harness) -> None:
    await bot.command("/explain", reply_to="77", images=[meme_jpeg()])
    said = bot.chat.pop()
    assert said.image is not None and said.image[0] == "explain.png"
    assert min(png_size(said.image[1])) >= 384
    assert said.text.startswith("😂 Meme (") and "Red marks" in said.text
    assert said.reply_to is not None and said.reply_to != "77"  # answers the command message


async def test_memeify_replies_with_a_captioned_photo(bot: Harness) -> None:
    await bot.command("/memeify", reply_to="78", images=[FACE_PHOTO])
    said = bot.chat.pop()
    assert said.image is not None and said.image[0] == "meme.png"
    assert png_size(said.image[1]) == (512, 512)
    assert said.text.startswith("😄 Looks happy (")


@pytest.mark.parametrize("command", ["/explain", "/memeify"])
async def test_without_a_replied_image_they_explain_how(bot: Harness, command: str) -> None:
    await bot.command(command)
    said = bot.chat.pop()
    assert said.text.startswith("Reply to a") and command in said.text and said.private
    await bot.command(command, reply_to="5", images=[])
    assert bot.chat.pop().text.startswith("Reply to a")


async def test_memeify_without_a_face_says_so(bot: Harness) -> None:
    await bot.command("/memeify", reply_to="9", images=[meme_jpeg()])
    said = bot.chat.pop()
    assert said.image is None and said.text.startswith("I couldn't find a face in that photo.")


@pytest.mark.parametrize("command", ["/explain", "/memeify"])
async def test_corrupt_images_get_the_classifiers_answer(bot: Harness, command: str) -> None:
    await bot.command(command, reply_to="9", images=[b"\x89PNG\r\n\x1a\n truncated"])
    text = bot.chat.pop().text
    assert "image" in text.lower() and "Sorry, something went wrong" not in text


async def test_album_uses_the_first_image_and_says_so(bot: Harness) -> None:
    await bot.command("/explain", reply_to="9", images=[meme_jpeg(1), meme_jpeg(2)])
    said = bot.chat.pop()
    assert said.image is not None and said.text.endswith("(I looked at the first of 2 images.)")


class GatedExplainer(Explainer):
    """Holds every explanation until the test opens the gate."""

    entered = threading.Event()
    gate = threading.Event()

    def explain(self, data: bytes) -> Explanation:
        self.entered.set()
        assert self.gate.wait(30)
        return super().explain(data)


@pytest.fixture
async def gated(config: Config, repo: Repository, classifier: Classifier) -> AsyncIterator[Harness]:
    GatedExplainer.entered.clear()
    GatedExplainer.gate.clear()
    limits = DecodeLimits()
    checkpoint = config.classifier.checkpoint
    assert checkpoint is not None

    async def fetch(ref: ImageRef) -> bytes:
        return await ref.fetch()

    imaging = ImagingCommands(
        fetch=fetch,
        explainer=lambda: GatedExplainer.from_checkpoint(checkpoint, limits=limits),
        memeifier=lambda: Memeifier.load(limits),
        running=1,
        waiting=1,
    )
    core = BotCore(
        classifier=classifier,
        repo=repo,
        moderation=config.moderation,
        storage=config.storage,
        imaging=imaging,
    )
    yield Harness(core, FakeChat())
    GatedExplainer.gate.set()
    await core.aclose()


async def test_busy_explain_queue_answers_politely_and_classification_goes_on(gated: Harness) -> None:
    bot = gated
    running = asyncio.create_task(bot.command("/explain", reply_to="1", images=[meme_jpeg(1)]))
    await asyncio.to_thread(GatedExplainer.entered.wait, 30)
    waiting = asyncio.create_task(bot.command("/explain", reply_to="2", images=[meme_jpeg(2)]))
    await asyncio.sleep(0.05)
    await bot.command("/explain", reply_to="3", images=[meme_jpeg(3)])
    assert bot.chat.pop().text.startswith("I'm busy explaining other images")
    await bot.command("/classify", reply_to="4", images=[meme_jpeg(4)])  # not stuck behind Grad-CAM
    assert bot.chat.pop().text.startswith("😂 Meme (")
    GatedExplainer.gate.set()
    await asyncio.wait_for(asyncio.gather(running, waiting), 60)
    assert [s.image is not None for s in bot.chat.said] == [True, True]


async def test_bounded_worker_admits_running_plus_waiting() -> None:
    gate = threading.Event()
    worker = BoundedWorker("test", running=1, waiting=1, busy_text="busy")
    try:
        first = asyncio.create_task(worker.run(lambda: gate.wait(10)))
        second = asyncio.create_task(worker.run(lambda: "second"))
        await asyncio.sleep(0.05)
        with pytest.raises(WorkerBusy, match="busy"):
            await worker.run(lambda: "third")
        gate.set()
        assert await asyncio.gather(first, second) == [True, "second"]
        assert await worker.run(lambda: "later") == "later"  # the slots came back
    finally:
        gate.set()
        worker.close()


def test_console_saves_pictures_and_prints_where(tmp_path: Path) -> None:
    out = io.StringIO()
    chat = ConsoleChat(chat_id="local", out=out, export_dir=tmp_path)

    async def send_two() -> None:
        await chat.send_image(filename="meme.png", data=b"png-1", caption="😄 Looks happy (99%).")
        await chat.send_image(filename="meme.png", data=b"png-2")

    asyncio.run(send_two())
    saved = sorted(tmp_path.iterdir())
    assert [p.read_bytes() for p in saved] == [b"png-1", b"png-2"]
    assert f"🖼️ {saved[0]} 😄 Looks happy (99%)." in out.getvalue()
