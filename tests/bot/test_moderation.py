"""Moderation that learns at once, through the core: labels, the review band, appeals, report, audit."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable

from PIL import Image

from bot.meme_text import draw_caption
from storage import Repository
from tests.bot.fakechat import FakeChat, Harness, Said
from tests.imagefactory import encode
from tests.modelfactory import grey_jpeg, meme_jpeg

WHERE = {"platform": "test", "chat_id": "chat-1"}


def dark_template() -> Image.Image:
    """A dark photo-like picture: the brightness model calls it (and its captioned copies) not a meme."""
    img = Image.effect_noise((320, 240), 12).convert("RGB").point(lambda v: v // 6)
    return img


def captioned(top: str, bottom: str, *, quality: int = 90) -> bytes:
    return encode(draw_caption(dark_template(), top, bottom), "JPEG", quality=quality)


CHART = ("WHEN THE CHART", "IS ACTUALLY A MEME")
OTHER = ("WHEN THE CHART", "HAS NO AXIS LABELS")


async def memes_only(bot: Harness, mode: str = "delete") -> None:
    await bot.command("/memesonly on", user="mod")
    await bot.command(f"/mode {mode}", user="mod")
    bot.chat.said.clear()


def button(said: Said, label: str) -> object:
    return next(b for b in said.buttons if label in b.label)


async def label_as_meme(bot: Harness, image: bytes) -> None:
    """A moderator presses Wrong under the verdict on a non-meme: the chat's label is now meme."""
    await bot.post(image)
    verdict = bot.chat.pop()
    assert "Not a meme" in verdict.text
    thanks = await bot.press(verdict.buttons[1], user="mod")  # type: ignore[arg-type]
    assert "this chat's label for this image and its reposts" in thanks


async def test_a_moderators_label_stops_a_repost_being_removed(bot: Harness) -> None:
    await label_as_meme(bot, captioned(*CHART))
    await memes_only(bot)
    repost = await bot.post(captioned(*CHART, quality=55))  # re-encoded: different bytes, same picture
    assert repost not in bot.chat.deleted
    assert "😂 Meme (a moderator's label)" in bot.chat.pop().text


async def test_another_caption_on_the_template_is_not_covered(bot: Harness) -> None:
    await label_as_meme(bot, captioned(*CHART))
    await memes_only(bot)
    other = await bot.post(captioned(*OTHER))
    assert bot.chat.deleted == [other]


async def test_a_members_vote_never_overrides_the_model(bot: Harness) -> None:
    image = captioned(*CHART)
    await bot.post(image)
    await bot.press(bot.chat.pop().buttons[1], user="bob")  # type: ignore[arg-type]
    await memes_only(bot)
    posted = await bot.post(image)
    assert bot.chat.deleted == [posted]


async def test_undoing_a_label(bot: Harness, repo: Repository) -> None:
    image = captioned(*CHART)
    await label_as_meme(bot, image)
    [made] = await repo.moderation.labels(**WHERE)
    await bot.command("/labels", user="alice")
    assert "only moderators" in bot.chat.pop().text
    await bot.command("/labels", user="mod")
    assert f"#{made.id} Meme (and its reposts), by Mod" in bot.chat.pop().text
    await bot.command(f"/unlabel {made.id}", user="mod")
    assert "undone" in bot.chat.pop().text
    await memes_only(bot)
    posted = await bot.post(image)
    assert bot.chat.deleted == [posted]
    [entry, *_] = await repo.moderation.audit_entries(**WHERE)
    assert entry.action == "removal"
    assert "unlabel" in [e.action for e in await repo.moderation.audit_entries(**WHERE)]


async def removed_post(bot: Harness, image: bytes | None = None) -> tuple[str, Said]:
    await memes_only(bot)
    posted = await bot.post(image or captioned(*OTHER))
    assert bot.chat.deleted[-1:] == [posted]
    return posted, bot.chat.said.pop()


async def test_only_the_poster_can_appeal_and_only_once(bot: Harness) -> None:
    _, notice = await removed_post(bot)
    appeal = button(notice, "Appeal")
    assert await bot.press(appeal, user="bob") == "Only the poster can appeal."  # type: ignore[arg-type]
    assert "Appeal sent" in await bot.press(appeal, user="alice")  # type: ignore[arg-type]
    assert "already appealed" in await bot.press(appeal, user="alice")  # type: ignore[arg-type]


async def appealed_item(bot: Harness) -> Said:
    """A removed post appealed by its poster, as a moderator sees it in /review."""
    _, notice = await removed_post(bot)
    await bot.press(button(notice, "Appeal"), user="alice")  # type: ignore[arg-type]
    await bot.command("/review", user="mod")
    item = bot.chat.pop()
    assert item.image is not None and "Appeal by Alice" in item.text and "Not a meme" in item.text
    assert [b.label for b in item.buttons] == ["♻️ Restore", "✋ Keep removed"]
    return item


async def test_an_upheld_appeal_restores_the_image_and_labels_it(bot: Harness) -> None:
    item = await appealed_item(bot)
    assert "upheld" in await bot.press(item.buttons[0], user="mod", message_id=item.message_id)
    restored = next(s for s in bot.chat.said if s.image is not None)
    assert restored.text == "Posted by Alice, restored by a moderator."
    bot.chat.said.clear()
    repost = await bot.post(captioned(*OTHER))
    assert repost not in bot.chat.deleted  # the appeal made it the chat's label
    assert "a moderator's label" in bot.chat.pop().text


async def test_a_rejected_appeal_is_told_privately_or_in_a_self_deleting_reply(bot: Harness) -> None:
    item = await appealed_item(bot)
    await bot.press(item.buttons[1], user="mod")
    assert [user for user, _ in bot.chat.told] == ["alice"]
    assert "kept the removal" in bot.chat.told[0][1]

    bot.chat.closed_dms.add("alice")
    bot.chat.said.clear()
    second = await appealed_item(bot)
    bot.chat.said.clear()
    await bot.press(second.buttons[1], user="mod")
    reply = next(s for s in bot.chat.said if s.text.startswith("Alice: a moderator looked at your appeal"))
    await asyncio.sleep(0.5)  # notice_seconds is 0.2 in the test config
    assert reply.message_id in bot.chat.deleted


async def test_a_plain_member_cannot_decide(bot: Harness) -> None:
    item = await appealed_item(bot)
    assert "Only the moderators" in await bot.press(item.buttons[0], user="bob")


async def band(bot: Harness) -> None:
    """Memes-only with a threshold of 0.99: a grey picture (about 95% not a meme) is in the band."""
    await memes_only(bot)
    await bot.command("/threshold 0.99", user="mod")
    await bot.command("/review_threshold 0.5", user="mod")
    assert "Review band: non-memes I'm 50% to 99% sure of" in bot.chat.texts()[-1]
    bot.chat.said.clear()


async def test_the_review_band_keeps_the_post_and_queues_it(bot: Harness, repo: Repository) -> None:
    await band(bot)
    posted = await bot.post(grey_jpeg(100))
    assert not bot.chat.deleted
    assert "kept for a moderator's review" in bot.chat.pop().text
    await bot.command("/review", user="mod")
    item = bot.chat.pop()
    assert "Review:" in item.text and "posted by Alice" in item.text and item.image is not None
    assert "Removed" in await bot.press(item.buttons[1], user="mod")
    assert bot.chat.deleted == [posted]
    record = await repo.find_classification(**WHERE, message_id=posted)
    assert record is not None and record.action_taken == "deleted"
    await bot.command("/review", user="mod")
    assert "Nothing is waiting" in bot.chat.pop().text


async def test_two_moderators_deciding_one_item_at_once_give_one_outcome(bot: Harness) -> None:
    await band(bot)
    posted = await bot.post(grey_jpeg(100))
    bot.chat.said.clear()
    bot.chat.moderators.add("mod2")
    await bot.command("/review", user="mod")
    item = bot.chat.pop()
    keep, remove = item.buttons
    await asyncio.gather(bot.press(keep, user="mod"), bot.press(remove, user="mod2"))
    answers = bot.answers[-2:]
    assert sum("Already decided" in a for a in answers) == 1
    kept = any(a.startswith("✅ Kept") for a in answers)
    assert (posted in bot.chat.deleted) is not kept


async def test_a_review_chat_gets_each_item_with_buttons(bot: Harness) -> None:
    review_chat = bot.chat.sibling("mods")
    await bot.command("/reviewchat", user="mod")
    code = bot.chat.pop().text.split("/reviewchat ")[1].split()[0]
    review_chat.moderators.add("bob")  # a moderator there, not in the chat to review
    await bot.command(f"/reviewchat {code}", user="bob", chat=review_chat)
    assert "Only a moderator of the chat to review" in review_chat.pop().text
    await bot.command(f"/reviewchat {code}", user="mod", chat=review_chat)
    assert "Linked" in review_chat.pop().text
    await bot.command(f"/reviewchat {code}", user="mod", chat=review_chat)
    assert "unknown or has expired" in review_chat.pop().text  # single use
    await band(bot)
    posted = await bot.post(grey_jpeg(100))
    item = review_chat.pop()
    assert "in chat chat-1" in item.text and item.image is not None
    review_chat.moderators = {"mod"}
    answer = await bot.press(item.buttons[1], user="mod", chat=review_chat, message_id=item.message_id)
    assert answer.startswith("🗑️ Removed") and bot.chat.deleted == [posted]
    assert review_chat.pop().reply_to == item.message_id  # the others in the review chat see it


async def test_the_report_shows_what_dryrun_would_have_removed(bot: Harness) -> None:
    await memes_only(bot, "dryrun")
    await bot.post(captioned(*OTHER))
    await bot.post(captioned(*CHART))
    await bot.post(meme_jpeg())
    verdicts = [bot.chat.pop() for _ in range(3)]
    await bot.press(verdicts[0].buttons[1], user="bob")  # a member: it was a meme
    await bot.command("/report")
    text = bot.chat.pop().text
    assert "Images checked: 3" in text
    assert "Memes-only acted on 2: 0 removed, 2 would have been removed (dryrun)" in text
    assert "later called memes: 1 by members, 0 by moderators" in text
    assert "No threshold up to 0.99 keeps wrong removals under 1%" in text
    await bot.command("/report 400")
    assert "/report DAYS (1 to 90)" in bot.chat.pop().text


async def test_the_audit_log_records_settings_removals_and_exports(bot: Harness) -> None:
    await memes_only(bot)
    await bot.command("/threshold 0.9", user="mod")
    await bot.post(captioned(*OTHER))
    bot.chat.said.clear()
    await bot.command("/audit", user="alice")
    assert "only moderators" in bot.chat.pop().text
    await bot.command("/audit", user="mod")
    lines = bot.chat.pop().text.splitlines()[1:]
    assert "memebot: removal message" in lines[0]
    assert "Mod: threshold: 0.8 → 0.9" in lines[1]
    assert "Mod: mode: delete → delete" not in "\n".join(lines)  # unchanged settings are not logged
    assert "Mod: memesonly: off → on" in lines[-1]


async def test_a_review_decision_is_exported_as_a_trusted_label(bot: Harness) -> None:
    await band(bot)
    await bot.post(grey_jpeg(100))
    await bot.command("/review", user="mod")
    await bot.press(bot.chat.said[-1].buttons[0], user="mod")  # Keep: it is fine here, a meme
    bot.chat.said.clear()
    await bot.command("/export", user="mod")
    sent = bot.chat.pop()
    assert sent.file is not None
    with zipfile.ZipFile(io.BytesIO(sent.file[1])) as zf:
        assert [n for n in zf.namelist() if n.startswith("meme/")]
        assert ",1," in zf.read("labels.csv").decode()  # one trusted vote


async def test_labels_are_per_chat(make_harness: Callable[..., Harness]) -> None:
    here = make_harness()
    await label_as_meme(here, captioned(*CHART))
    there = make_harness(FakeChat(chat_id="chat-2"))
    await memes_only(there)
    posted = await there.post(captioned(*CHART))
    assert there.chat.deleted == [posted]
    await here.core.aclose()
    await there.core.aclose()
