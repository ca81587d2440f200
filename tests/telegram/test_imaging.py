"""/explain and /memeify on Telegram: the result comes back as a photo people can save."""

from __future__ import annotations

from pathlib import Path

from bot.adapters.telegram import TelegramAdapter
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import meme_jpeg
from tests.telegram.conftest import Chats

FACE = (Path(__file__).resolve().parents[1] / "imaging" / "data" / "astronaut.jpg").read_bytes()


async def test_explain_replies_with_a_heatmap_photo(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    photo = tg.send_photo(chats.group, chats.alice, meme_jpeg())
    await tg.wait_for_message(chats.group, containing="😂 Meme")
    command = tg.send_text(chats.group, chats.alice, "/explain", reply_to=photo)

    await tg.wait_for(lambda: tg.sent_photos(chats.group))
    [sent] = tg.sent_photos(chats.group)
    assert sent.reply_to == command["message_id"]
    assert sent.caption is not None and sent.caption.startswith("😂 Meme (")
    assert sent.upload is not None and sent.upload.data.startswith(b"\x89PNG")


async def test_memeify_replies_with_a_captioned_photo(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    photo = tg.send_photo(chats.group, chats.alice, FACE)
    tg.send_text(chats.group, chats.alice, "/memeify", reply_to=photo)

    await tg.wait_for(lambda: tg.sent_photos(chats.group))
    [sent] = tg.sent_photos(chats.group)
    assert sent.upload is not None and len(sent.upload.data) > 10_000


async def test_memeify_without_a_face_says_so(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    photo = tg.send_photo(chats.group, chats.alice, meme_jpeg())
    tg.send_text(chats.group, chats.alice, "/memeify", reply_to=photo)
    await tg.wait_for_message(chats.group, containing="couldn't find a face")
