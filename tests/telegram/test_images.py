"""Pictures posted on Telegram get verdicts: photos, albums, stickers, GIFs, documents, edits."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from bot.adapters.telegram import TelegramAdapter
from storage import ClassificationRecord, Repository
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import grey_jpeg, meme_jpeg, not_meme_jpeg
from tests.telegram.conftest import Chats, eventually


def webp(level: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (128, 128), (level, level, level)).save(buffer, "WEBP")
    return buffer.getvalue()


def gif(level: int) -> bytes:
    frames = [Image.new("RGB", (64, 64), (level, level, level)) for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def fetched_file_ids(tg: FakeTelegram) -> list[str]:
    return [call["file_id"] for call in tg.calls_to("getFile")]


async def test_photo_gets_a_verdict_with_two_buttons(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    posted = tg.send_photo(chats.group, chats.alice, meme_jpeg())
    reply = await tg.wait_for_message(chats.group)

    assert reply.text and reply.text.startswith("😂 Meme (")
    assert reply.reply_to == posted["message_id"]

    async def recorded() -> ClassificationRecord | None:  # the reply's id is stored just after it is sent
        found = await repo.find_classification(
            platform="telegram", chat_id=str(chats.group["id"]), reply_message_id=str(reply.message_id)
        )
        return found

    record = await eventually(recorded)
    assert record.message_id == str(posted["message_id"]) and record.user_id == str(chats.alice["id"])
    assert reply.buttons == [("✅ Right", f"fb:{record.id}:r"), ("❌ Wrong", f"fb:{record.id}:w")]
    assert fetched_file_ids(tg) == [posted["photo"][-1]["file_id"]]  # the largest size
    assert tg.unknown_methods == []


async def test_private_chat_photo_of_a_non_meme(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    chat = tg.private_chat(chats.alice)
    tg.send_photo(chat, chats.alice, not_meme_jpeg())
    reply = await tg.wait_for_message(chat)
    assert reply.text and reply.text.startswith("🖼️ Not a meme (")


async def test_album_gets_one_reply_naming_each_picture(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    album = tg.send_album(chats.group, chats.alice, [meme_jpeg(1), not_meme_jpeg(2), meme_jpeg(3)])
    reply = await tg.wait_for_message(chats.group)

    assert reply.text is not None
    lines = reply.text.splitlines()
    assert [line[:2] for line in lines] == ["1.", "2.", "3."] and "Not a meme" in lines[1]
    assert len(reply.buttons) == 6 and reply.buttons[-1][0] == "❌ Wrong 3"
    assert reply.reply_to == album[0]["message_id"]
    assert len(tg.sent_messages(chats.group)) == 1
    for message in album:  # each picture is recorded against its own message, for a later delete
        found = await repo.find_classification(
            platform="telegram", chat_id=str(chats.group["id"]), message_id=str(message["message_id"])
        )
        assert found is not None


async def test_static_sticker_is_judged_itself(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    posted = tg.send_sticker(chats.group, chats.alice, webp(245), thumbnail=not_meme_jpeg())
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("😂 Meme (") and "thumbnail" not in reply.text
    assert fetched_file_ids(tg) == [posted["sticker"]["file_id"]]


@pytest.mark.parametrize(
    ("kind", "flags"), [("animated", {"is_animated": True}), ("video", {"is_video": True})]
)
async def test_moving_sticker_is_judged_on_its_thumbnail(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, kind: str, flags: dict[str, bool]
) -> None:
    posted = tg.send_sticker(
        chats.group, chats.alice, b"lottie or webm bytes", thumbnail=not_meme_jpeg(), **flags
    )
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("🖼️ Not a meme (")
    assert reply.text.endswith(f"judged on the {kind} sticker's thumbnail")
    assert fetched_file_ids(tg) == [posted["sticker"]["thumbnail"]["file_id"]]


async def test_gif_sent_as_video_is_judged_on_its_thumbnail(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_animation(chats.group, chats.alice, b"\x00\x00\x00\x18ftypmp42", thumbnail=meme_jpeg())
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("😂 Meme (") and "judged on the GIF's thumbnail" in reply.text


async def test_real_gif_is_judged_on_its_frames(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    posted = tg.send_animation(chats.group, chats.alice, gif(10), file_name="dark.gif", mime_type="image/gif")
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("🖼️ Not a meme (") and "thumbnail" not in reply.text
    assert fetched_file_ids(tg) == [posted["animation"]["file_id"]]


async def test_image_document_is_judged_and_other_documents_ignored(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_document(chats.group, chats.alice, b"%PDF-1.4", "paper.pdf", "application/pdf")
    tg.send_document(chats.group, chats.alice, meme_jpeg(), "meme.jpg", "image/jpeg")
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("😂 Meme (")
    assert len(tg.sent_messages(chats.group)) == 1 and len(tg.calls_to("getFile")) == 1


async def test_oversize_document_gets_a_clear_answer_without_a_download(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_document(chats.group, chats.alice, meme_jpeg(), "huge.png", "image/png", oversize=True)
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("⚠️") and "too large" in reply.text
    assert tg.calls_to("getFile") == []


async def test_oversize_photo_is_judged_on_its_largest_downloadable_size(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    posted = tg.send_photo(chats.group, chats.alice, grey_jpeg(245, (1000, 1000)), oversize=True)
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("😂 Meme (")
    assert fetched_file_ids(tg) == [posted["photo"][-2]["file_id"]]  # the 800 px size, not the 21 MB one


async def test_photo_with_no_downloadable_size_gets_a_clear_answer(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_photo(chats.group, chats.alice, grey_jpeg(245, (64, 64)), oversize=True)
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("⚠️") and "too large" in reply.text


async def test_corrupt_image_gets_a_clear_answer(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_document(
        chats.group, chats.alice, b"\xff\xd8\xff\xe0 not really a jpeg", "broken.jpg", "image/jpeg"
    )
    reply = await tg.wait_for_message(chats.group)
    assert reply.text and reply.text.startswith("⚠️") and "image" in reply.text.lower()
    assert "Sorry, something went wrong" not in reply.text


async def test_edited_photo_is_judged_again_but_a_caption_edit_is_not(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    posted = tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    await tg.wait_for_message(chats.group, containing="Not a meme")

    tg.edit_message(chats.group, posted, caption="just a caption")
    tg.edit_message(chats.group, posted, photo=meme_jpeg())
    again = await tg.wait_for_message(chats.group, containing="😂 Meme")
    assert again.reply_to == posted["message_id"]
    assert len(tg.sent_messages(chats.group)) == 2 and len(tg.calls_to("getFile")) == 2


async def test_a_slow_download_does_not_hold_up_other_chats(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    stall_s = 2.0
    tg.stall_next("getFile", stall_s)  # whichever picture asks first waits
    loop = asyncio.get_running_loop()
    started = loop.time()
    tg.send_photo(chats.group, chats.alice, meme_jpeg(1))
    tg.send_photo(tg.private_chat(chats.olga), chats.olga, meme_jpeg(2))

    await tg.wait_for(lambda: tg.sent_messages())
    assert loop.time() - started < stall_s * 0.75
    await tg.wait_for(lambda: len(tg.sent_messages()) == 2)
