"""The way back to a chat (TelegramChat) driven directly, with the real PTB bot and the fake."""

from __future__ import annotations

import pytest

from bot.errors import MessageGone
from bot.events import Event, ImagePosted
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import meme_jpeg
from tests.telegram.conftest import Chats, StartBot


async def recording(start_bot: StartBot) -> list[Event]:
    """Start the adapter with a handler that only keeps the events, so a test can use their ctx."""
    events: list[Event] = []

    async def handler(event: Event) -> None:
        events.append(event)

    await start_bot(handler=handler)
    return events


async def test_reply_to_a_vanished_message_is_sent_without_it(
    start_bot: StartBot, tg: FakeTelegram, chats: Chats
) -> None:
    events = await recording(start_bot)
    posted = tg.send_photo(chats.group, chats.alice, meme_jpeg())
    [event] = await tg.wait_for(lambda: events)
    assert isinstance(event, ImagePosted) and event.message_id == str(posted["message_id"])

    sent = await event.ctx.send("hello", reply_to="9999")
    [message] = tg.sent_messages(chats.group)
    assert (message.message_id, message.reply_to) == (int(sent.message_id), None)
    with pytest.raises(MessageGone):
        await event.ctx.delete("9999")
    await event.ctx.delete(sent.message_id)
    assert message.deleted


async def test_pictures_are_sent_as_photos_or_else_as_documents(
    start_bot: StartBot, tg: FakeTelegram, chats: Chats
) -> None:
    events = await recording(start_bot)
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    [event] = await tg.wait_for(lambda: events)

    await event.ctx.send_image(
        filename="heatmap.jpg", data=meme_jpeg(), caption="look", reply_to=event.message_id
    )
    [photo] = tg.sent_photos(chats.group)
    assert (photo.caption, photo.reply_to) == ("look", int(event.message_id))
    tg.fail_next("sendPhoto", 400, "Bad Request: PHOTO_INVALID_DIMENSIONS")
    await event.ctx.send_image(filename="tall.jpg", data=meme_jpeg(), caption="too tall")
    [document] = tg.sent_documents(chats.group)
    assert document.caption == "too tall" and document.upload and document.upload.filename == "tall.jpg"
