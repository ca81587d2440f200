"""Moderation over the real python-telegram-bot and the fake Bot API: appeals, review, private replies."""

from __future__ import annotations

from bot.adapters.telegram import TelegramAdapter
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import grey_jpeg, not_meme_jpeg
from tests.telegram.conftest import Chats


async def memes_only(tg: FakeTelegram, chats: Chats, threshold: str | None = None) -> None:
    tg.send_text(chats.group, chats.olga, "/memesonly on")
    await tg.wait_for_message(chats.group, containing="Memes-only is on")
    if threshold is not None:
        tg.send_text(chats.group, chats.olga, f"/threshold {threshold}")
        await tg.wait_for_message(chats.group, containing="Threshold set")


async def test_an_appeal_upheld_reposts_the_image_from_its_copy(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await memes_only(tg, chats)
    tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    notice = await tg.wait_for_message(chats.group, containing="Removed a non-meme from Alice")
    [(label, appeal)] = notice.buttons
    assert label == "⚖️ Appeal" and "press Appeal within 1 minute" in (notice.text or "")

    tg.press_button(chats.group, chats.olga, notice.message_id, appeal or "")
    await tg.wait_for(
        lambda: [a for a in tg.callback_answers if a.get("text") == "Only the poster can appeal."]
    )
    tg.press_button(chats.group, chats.alice, notice.message_id, appeal or "")
    await tg.wait_for(lambda: [a for a in tg.callback_answers if "Appeal sent" in a.get("text", "")])

    tg.send_text(chats.group, chats.olga, "/review")
    item = await tg.wait_for(
        lambda: next((m for m in tg.sent_photos(chats.group) if "Appeal by Alice" in (m.caption or "")), None)
    )
    restore = dict(item.buttons)["♻️ Restore"]
    tg.press_button(chats.group, chats.olga, item.message_id, restore or "")
    restored = await tg.wait_for(
        lambda: next(
            (
                m
                for m in tg.sent_photos(chats.group)
                if m.caption == "Posted by Alice, restored by a moderator."
            ),
            None,
        )
    )
    assert restored.upload is not None and restored.upload.data[:2] == b"\xff\xd8"  # the stored JPEG copy


async def test_a_rejected_appeal_goes_to_the_posters_private_chat(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    private = tg.private_chat(chats.alice)  # alice has started the bot, so it may write to her
    await memes_only(tg, chats)
    tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    notice = await tg.wait_for_message(chats.group, containing="Removed a non-meme")
    tg.press_button(chats.group, chats.alice, notice.message_id, notice.buttons[0][1] or "")
    await tg.wait_for(lambda: [a for a in tg.callback_answers if "Appeal sent" in a.get("text", "")])
    tg.send_text(chats.group, chats.olga, "/review")
    item = await tg.wait_for(lambda: next(iter(tg.sent_photos(chats.group)), None))
    tg.press_button(chats.group, chats.olga, item.message_id, dict(item.buttons)["✋ Keep removed"] or "")
    told = await tg.wait_for_message(private, containing="kept the removal")
    assert told.chat_id == private["id"]


async def test_the_review_band_queues_a_doubtful_post(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await memes_only(tg, chats, "0.99")
    posted = tg.send_photo(chats.group, chats.alice, grey_jpeg(100))
    await tg.wait_for_message(chats.group, containing="kept for a moderator's review")
    tg.send_text(chats.group, chats.olga, "/review")
    item = await tg.wait_for(lambda: next(iter(tg.sent_photos(chats.group)), None))
    assert "Review:" in (item.caption or "") and [label for label, _ in item.buttons] == [
        "✅ Keep",
        "🗑️ Remove",
    ]
    tg.press_button(chats.group, chats.olga, item.message_id, dict(item.buttons)["🗑️ Remove"] or "")
    await tg.wait_for(lambda: posted["message_id"] in tg.deleted(chats.group) or None)


async def test_a_moderators_label_stops_a_repost_being_removed(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    chart = not_meme_jpeg(7)
    tg.send_photo(chats.group, chats.alice, chart)
    verdict = await tg.wait_for_message(chats.group, containing="🖼️ Not a meme")
    [_, (wrong, payload)] = verdict.buttons
    assert wrong.startswith("❌ Wrong")
    tg.press_button(chats.group, chats.olga, verdict.message_id, payload or "")  # the creator: trusted
    await tg.wait_for(lambda: [a for a in tg.callback_answers if "Noted" in a.get("text", "")])
    await memes_only(tg, chats)

    repost = tg.send_photo(chats.group, chats.alice, chart)
    reply = await tg.wait_for_message(chats.group, containing="a moderator's label")
    assert reply.text is not None and reply.text.startswith("😂 Meme (a moderator's label)")
    other = tg.send_photo(chats.group, chats.alice, not_meme_jpeg(8))
    await tg.wait_for(lambda: other["message_id"] in tg.deleted(chats.group) or None)
    assert repost["message_id"] not in tg.deleted(chats.group)
