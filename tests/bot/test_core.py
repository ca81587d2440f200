"""The core's behaviour through a fake chat, with the real classifier and a real SQLite file."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable

import pytest

from bot.config import Config
from storage import Repository
from tests.bot.fakechat import FakeChat, Harness, image_ref
from tests.conftest import with_moderation
from tests.modelfactory import grey_jpeg, meme_jpeg, not_meme_jpeg


async def test_posted_meme_gets_verdict_with_feedback_buttons(bot: Harness, repo: Repository) -> None:
    posted = await bot.post(meme_jpeg())
    reply = bot.chat.pop()
    assert reply.text.startswith("😂 Meme (")
    assert reply.reply_to == posted
    assert [b.label for b in reply.buttons] == ["✅ Right", "❌ Wrong"]
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None and record.label == "meme" and record.reply_message_id == reply.message_id
    assert await repo.has_image(record.image_sha256)


async def test_posted_photo_is_called_not_a_meme(bot: Harness) -> None:
    await bot.post(not_meme_jpeg())
    assert bot.chat.pop().text.startswith("🖼️ Not a meme (")


async def test_album_gets_one_numbered_reply(bot: Harness) -> None:
    await bot.post(meme_jpeg(1), not_meme_jpeg(2), meme_jpeg(3))
    reply = bot.chat.pop()
    lines = reply.text.splitlines()
    assert [line[:2] for line in lines] == ["1.", "2.", "3."]
    assert "Not a meme" in lines[1]
    assert len(reply.buttons) == 6 and reply.buttons[-1].label == "❌ Wrong 3"
    assert not bot.chat.said


async def test_edited_message_is_classified_again(bot: Harness) -> None:
    await bot.post(not_meme_jpeg(), edited=True)
    assert "Not a meme" in bot.chat.pop().text


async def test_corrupt_image_gets_a_clear_answer(bot: Harness) -> None:
    await bot.post(b"\xff\xd8\xff\xe0 definitely not a whole jpeg")
    text = bot.chat.pop().text
    assert text.startswith("⚠️") and "image" in text.lower()


async def test_oversize_file_is_refused_without_downloading(bot: Harness) -> None:
    fetched: list[bool] = []

    async def fetch() -> bytes:
        fetched.append(True)
        return b""

    from bot.events import ImageRef

    await bot.post_refs(ImageRef(name="huge.png", fetch=fetch, size=200 * 1024 * 1024))
    assert "too large" in bot.chat.pop().text
    assert not fetched


async def test_an_unexpected_download_failure_costs_only_its_image(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken() -> bytes:
        raise RuntimeError("disk on fire")

    async def fine() -> bytes:
        return meme_jpeg()

    from bot.events import ImageRef

    await bot.post_refs(ImageRef(name="x.jpg", fetch=broken), ImageRef(name="y.jpg", fetch=fine))
    text = bot.chat.pop().text
    assert "1. ⚠️ I couldn't download that image" in text and "2. 😂 Meme" in text
    assert "disk on fire" in caplog.text  # logged with its traceback for the operator


async def test_auto_reply_off_keeps_quiet_but_classify_still_answers(bot: Harness) -> None:
    await bot.command("/autoreply off", user="mod")
    assert "Auto-replies off" in bot.chat.pop().text
    posted_image = meme_jpeg()
    posted = await bot.post(posted_image)
    assert not bot.chat.said
    await bot.command("/classify", reply_to=posted, images=[posted_image])
    assert "Meme" in bot.chat.pop().text


async def test_classify_on_a_judged_image_reuses_its_record(bot: Harness, repo: Repository) -> None:
    image = meme_jpeg()
    posted = await bot.post(image)
    first = bot.chat.pop()
    await bot.command("/classify", reply_to=posted, images=[image])
    again = bot.chat.pop()
    assert again.buttons == first.buttons  # the same classification id travels in both
    assert (await repo.chat_stats(platform="test", chat_id="chat-1")).images == 1


async def test_classify_without_a_replied_image_explains(bot: Harness) -> None:
    await bot.command("/classify")
    said = bot.chat.pop()
    assert "Reply to a message with an image" in said.text and said.private


# ---- settings commands and permissions -----------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["/memesonly on", "/memesonly off", "/mode warn", "/threshold 0.9", "/autoreply off", "/export"],
)
async def test_plain_users_are_refused_moderator_commands(bot: Harness, command: str) -> None:
    await bot.command(command, user="alice")
    assert "only moderators" in bot.chat.pop().text


async def test_memesonly_status_and_toggle(bot: Harness) -> None:
    await bot.command("/memesonly status")
    assert "off" in bot.chat.pop().text
    await bot.command("/memesonly on", user="mod")
    assert "Memes-only is on" in bot.chat.pop().text
    await bot.command("/memesonly")
    assert "Memes-only is on. Mode: delete" in bot.chat.pop().text


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/mode explode", "Use /mode delete"),
        ("/threshold banana", "not a number"),
        ("/threshold 0.3", "between 0.5 and 0.99"),
        ("/memesonly maybe", "Use /memesonly on"),
        ("/memesonly on now", "Too many words"),
        ("/frobnicate", "I don't know /frobnicate"),
        ("/correct banana", "/correct meme or /correct not_meme"),
    ],
)
async def test_wrong_commands_get_usage(bot: Harness, command: str, expected: str) -> None:
    await bot.command(command, user="mod")
    assert expected in bot.chat.pop().text


async def test_threshold_accepts_percent(bot: Harness, repo: Repository) -> None:
    await bot.command("/threshold 85%", user="mod")
    assert "0.85" in bot.chat.pop().text
    assert (await repo.get_chat_settings(platform="test", chat_id="chat-1")).threshold == 0.85


async def test_help_lists_commands(bot: Harness) -> None:
    await bot.command("/help")
    text = bot.chat.pop().text
    for command in ("/classify", "/correct", "/memesonly", "/mode", "/threshold", "/export", "/stats"):
        assert command in text


# ---- memes-only enforcement ---------------------------------------------------------------


async def _memes_only(bot: Harness, mode: str = "delete") -> None:
    await bot.command("/memesonly on", user="mod")
    await bot.command(f"/mode {mode}", user="mod")
    bot.chat.said.clear()


async def test_delete_mode_removes_non_meme_and_notice_removes_itself(
    make_harness: Callable[..., Harness], config: Config, repo: Repository
) -> None:
    bot = make_harness(cfg=with_moderation(config, appeal_seconds=0.2))
    await _memes_only(bot)
    posted = await bot.post(not_meme_jpeg())
    assert bot.chat.deleted == [posted]
    notice = bot.chat.pop()
    assert "Removed a non-meme from Alice" in notice.text and not bot.chat.said
    assert "press Appeal within 1 second" in notice.text
    assert [b.label for b in notice.buttons] == ["⚖️ Appeal"]
    await asyncio.sleep(0.5)
    assert bot.chat.deleted == [posted, notice.message_id]
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None and record.action_taken == "deleted"
    await bot.core.aclose()


async def test_delete_mode_keeps_memes(bot: Harness) -> None:
    await _memes_only(bot)
    await bot.post(meme_jpeg())
    assert not bot.chat.deleted
    assert "Meme" in bot.chat.pop().text


async def test_delete_without_the_right_says_so(
    make_harness: Callable[..., Harness], repo: Repository
) -> None:
    bot = make_harness(FakeChat(can_delete=False))
    await _memes_only(bot)
    posted = await bot.post(not_meme_jpeg())
    assert any("can't remove that image" in t and "delete" in t for t in bot.chat.texts())
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None and record.action_taken == "delete_failed"


async def test_warn_mode_replies_and_keeps_the_image(bot: Harness) -> None:
    await _memes_only(bot, "warn")
    await bot.post(not_meme_jpeg())
    assert not bot.chat.deleted
    assert "memes only" in bot.chat.pop().text


async def test_dryrun_records_only(bot: Harness, repo: Repository) -> None:
    await _memes_only(bot, "dryrun")
    await bot.command("/autoreply off", user="mod")
    bot.chat.said.clear()
    posted = await bot.post(not_meme_jpeg())
    assert not bot.chat.deleted and not bot.chat.said
    record = await repo.find_classification(platform="test", chat_id="chat-1", message_id=posted)
    assert record is not None and record.action_taken == "dryrun"


async def test_moderators_are_exempt(bot: Harness) -> None:
    await _memes_only(bot)
    await bot.post(not_meme_jpeg(), user="mod")
    assert not bot.chat.deleted


async def test_moderators_not_exempt_when_configured(
    make_harness: Callable[..., Harness], config: Config
) -> None:
    bot = make_harness(cfg=with_moderation(config, exempt_moderators=False))
    await _memes_only(bot)
    await bot.post(not_meme_jpeg(), user="mod")
    assert len(bot.chat.deleted) == 1
    await bot.core.aclose()


async def test_threshold_spares_uncertain_images(bot: Harness) -> None:
    await _memes_only(bot)
    await bot.command("/threshold 0.99", user="mod")
    unsure = grey_jpeg(100)  # about 95% not a meme with the brightness model
    await bot.post(unsure)
    assert not bot.chat.deleted
    await bot.command("/threshold 0.9", user="mod")
    await bot.post(grey_jpeg(100, noise_seed=7))
    assert len(bot.chat.deleted) == 1


async def test_album_in_memes_only_chat_deletes_only_the_offender(bot: Harness) -> None:
    await _memes_only(bot)
    chat = bot.chat
    first, second = chat.new_id(), chat.new_id()
    await bot.post_refs(
        image_ref(meme_jpeg(), message_id=first), image_ref(not_meme_jpeg(), message_id=second)
    )
    assert chat.deleted == [second]
    texts = chat.texts()
    assert any("Removed a non-meme" in t for t in texts) and any("Meme" in t for t in texts)


# ---- corrections and feedback ----------------------------------------------------------------


async def test_wrong_button_records_the_opposite_label(bot: Harness, repo: Repository) -> None:
    await bot.post(meme_jpeg())
    wrong = bot.chat.pop().buttons[1]
    assert "not a meme" in await bot.press(wrong, user="bob")
    stats = await repo.chat_stats(platform="test", chat_id="chat-1")
    assert (stats.feedback_votes, stats.agreeing_votes) == (1, 0)
    labelled = await repo.labelled_images()
    assert [(x.label, x.not_meme_votes) for x in labelled] == [("not_meme", 1)]


async def test_buttons_work_after_a_restart(
    make_harness: Callable[..., Harness], config: Config, repo: Repository
) -> None:
    first = make_harness()
    await first.post(meme_jpeg())
    right = first.chat.pop().buttons[0]
    await first.core.aclose()
    from bot.app import open_repository
    from bot.core import BotCore
    from classifier import Classifier

    fresh_repo = await open_repository(config)
    async with Classifier.from_settings(config.classifier) as fresh_classifier:
        core = BotCore(
            classifier=fresh_classifier, repo=fresh_repo, moderation=config.moderation, storage=config.storage
        )
        assert "Noted: meme" in await Harness(core, first.chat).press(right)
    await fresh_repo.aclose()
    assert (await repo.chat_stats(platform="test", chat_id="chat-1")).agreeing_votes == 1


async def test_button_from_another_chat_is_refused(make_harness: Callable[..., Harness]) -> None:
    here = make_harness()
    await here.post(meme_jpeg())
    button = here.chat.pop().buttons[0]
    elsewhere = make_harness(FakeChat(chat_id="chat-2"))
    assert "no longer have that verdict" in await elsewhere.press(button)


async def test_foreign_button_payload(bot: Harness) -> None:
    from bot.events import Button

    assert "isn't one of mine" in await bot.press(Button("x", "something-else"))


async def test_correct_replying_to_the_image(bot: Harness, repo: Repository) -> None:
    image = not_meme_jpeg()
    posted = await bot.post(image)
    bot.chat.said.clear()
    await bot.command("/correct meme", user="mod", reply_to=posted, images=[image])
    assert "Noted: meme" in bot.chat.pop().text
    [labelled] = await repo.labelled_images()
    assert (labelled.label, labelled.trusted_votes, labelled.model_label) == ("meme", 1, "not_meme")
    stats = await repo.chat_stats(platform="test", chat_id="chat-1")
    assert stats.images == 1  # the correction reused the stored verdict instead of adding one


async def test_correct_replying_to_the_verdict(bot: Harness, repo: Repository) -> None:
    await bot.post(meme_jpeg())
    verdict = bot.chat.pop()
    await bot.command("/correct not meme", reply_to=verdict.message_id)
    assert "Noted: not a meme" in bot.chat.pop().text
    [labelled] = await repo.labelled_images()
    assert labelled.label == "not_meme" and labelled.trusted_votes == 0


async def test_correct_replying_to_either_verdict_of_a_reclassified_image(
    bot: Harness, repo: Repository
) -> None:
    image = meme_jpeg()
    posted = await bot.post(image)
    first = bot.chat.pop()
    await bot.command("/classify", reply_to=posted, images=[image])
    second = bot.chat.pop()
    await bot.command("/correct not_meme", user="bob", reply_to=first.message_id)
    assert "Noted: not a meme" in bot.chat.pop().text
    await bot.command("/correct not_meme", user="carol", reply_to=second.message_id)
    assert "Noted: not a meme" in bot.chat.pop().text
    where = {"platform": "test", "chat_id": "chat-1"}
    record = await repo.find_classification(**where, message_id=posted)
    assert record is not None and record.reply_message_id == second.message_id
    assert await repo.find_classification(**where, reply_message_id=first.message_id) == record
    stats = await repo.chat_stats(**where)
    assert (stats.images, stats.feedback_votes, stats.corrections) == (1, 2, 2)  # both votes, one record


async def test_correct_without_a_reply_explains(bot: Harness) -> None:
    await bot.command("/correct meme")
    assert "Reply to an image" in bot.chat.pop().text


async def test_corrections_are_rate_limited(bot: Harness) -> None:
    await bot.post(meme_jpeg())
    right = bot.chat.pop().buttons[0]
    answers = [await bot.press(right, user="spammer") for _ in range(11)]
    assert all("Noted" in a for a in answers[:10])
    assert "too fast" in answers[10]
    assert "Noted" in await bot.press(right, user="someone-else")


# ---- stats and export ----------------------------------------------------------------------


async def test_stats(bot: Harness) -> None:
    await bot.command("/stats")
    assert "haven't checked any images" in bot.chat.pop().text
    await bot.post(meme_jpeg(1))
    await bot.post(meme_jpeg(2))
    await bot.post(not_meme_jpeg(3))
    buttons = [bot.chat.pop().buttons for _ in range(3)]
    await bot.press(buttons[0][0])  # right
    await bot.press(buttons[2][1])  # wrong
    await bot.command("/stats")
    text = bot.chat.pop().text
    assert "Images checked: 3" in text and "Memes: 2 (67%)" in text
    assert "2 votes, 50% agreed" in text


async def test_export_sends_a_training_zip(bot: Harness) -> None:
    await bot.command("/export", user="mod")
    assert "no corrections" in bot.chat.pop().text
    await bot.post(meme_jpeg())
    await bot.press(bot.chat.pop().buttons[1])  # wrong: it is not a meme
    await bot.command("/export", user="mod")
    sent = bot.chat.pop()
    assert sent.file is not None
    name, data = sent.file
    assert name.endswith(".zip") and "1 corrected images" in sent.text
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert "labels.csv" in names
        assert [n for n in names if n.startswith("not_meme/")]
        assert "not_meme" in zf.read("labels.csv").decode()
