"""Commands on Telegram: moderators, memes-only enforcement, /classify, /correct, /export, @bot."""

from __future__ import annotations

import io
import zipfile

from bot import replies
from bot.adapters.telegram import TelegramAdapter
from bot.config import Config
from storage import Repository
from tests.conftest import with_moderation
from tests.fakes.telegram_api import FakeTelegram, JsonDict, SentMessage
from tests.modelfactory import meme_jpeg, not_meme_jpeg
from tests.telegram.conftest import Chats, StartBot, eventually


async def say(
    tg: FakeTelegram, chat: JsonDict, user: JsonDict, text: str, *, expect: str, reply_to: int | None = None
) -> SentMessage:
    """Send a text as `user` and wait for the bot's answer that contains `expect`."""
    tg.send_text(chat, user, text, reply_to=reply_to)
    return await tg.wait_for_message(chat, containing=expect)


def member_lookups(tg: FakeTelegram, user: JsonDict) -> int:
    return sum(1 for call in tg.calls_to("getChatMember") if int(call["user_id"]) == user["id"])


async def test_command_menu_is_published_at_start(bot: TelegramAdapter, tg: FakeTelegram) -> None:
    names = [command["command"] for command in tg.commands]
    assert {"classify", "correct", "memesonly", "export", "stats", "help"} <= set(names)


async def test_help_and_start_in_a_private_chat(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    chat = tg.private_chat(chats.alice)
    tg.send_text(chat, chats.alice, "/start")
    tg.send_text(chat, chats.alice, "/help")
    await tg.wait_for(lambda: len(tg.sent_messages(chat)) == 2)
    assert [m.text for m in tg.sent_messages(chat)] == [replies.HELP, replies.HELP]


async def test_plain_member_is_refused_and_an_admin_succeeds(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    refused = await say(tg, chats.group, chats.alice, "/memesonly on", expect="only moderators")
    assert refused.text == "Sorry, only moderators can use /memesonly that way."
    await say(tg, chats.group, chats.mo, "/memesonly on", expect="Memes-only is on")
    await say(tg, chats.group, chats.mo, "/mode warn", expect="Mode set to warn")
    settings = await repo.get_chat_settings(platform="telegram", chat_id=str(chats.group["id"]))
    assert settings.memes_only and settings.action == "warn"
    assert member_lookups(tg, chats.mo) == 1  # cached for moderator_cache_s


async def test_creator_and_anonymous_admin_are_moderators(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, chats.group, chats.olga, "/autoreply off", expect="Auto-replies off")
    await say(tg, chats.group, tg.anonymous_admin, "/memesonly on", expect="Memes-only is on")
    assert member_lookups(tg, tg.anonymous_admin) == 0  # the message came from the chat itself


async def test_everyone_moderates_their_own_private_chat(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, tg.private_chat(chats.alice), chats.alice, "/memesonly on", expect="Memes-only is on")
    assert tg.calls_to("getChatMember") == []


async def test_non_meme_is_deleted_with_a_notice_that_deletes_itself(
    start_bot: StartBot, config: Config, tg: FakeTelegram, chats: Chats
) -> None:
    await start_bot(with_moderation(config, appeal_seconds=0.2))
    await say(tg, chats.group, chats.olga, "/memesonly on", expect="Memes-only is on")
    posted = tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    notice = await tg.wait_for_message(chats.group, containing="Removed a non-meme from Alice")

    assert posted["message_id"] in tg.deleted(chats.group)
    assert tg.message(chats.group, posted["message_id"]) is None
    await tg.wait_for(lambda: notice.deleted)


async def test_memes_and_moderators_images_stay(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    await say(tg, chats.group, chats.olga, "/memesonly on", expect="Memes-only is on")
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    await tg.wait_for_message(chats.group, containing="😂 Meme")
    tg.send_photo(chats.group, chats.mo, not_meme_jpeg())
    await tg.wait_for_message(chats.group, containing="Not a meme")
    assert tg.deleted(chats.group) == []


async def test_bot_without_the_delete_right_says_so(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.set_member(chats.group, tg.bot_user, "administrator", can_delete_messages=False)
    await say(tg, chats.group, chats.olga, "/memesonly on", expect="Memes-only is on")
    posted = tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    told = await tg.wait_for_message(chats.group, containing="can't remove")

    assert told.text is not None and "I need the 'Delete messages' admin right here." in told.text
    assert told.reply_to == posted["message_id"]
    assert tg.deleted(chats.group) == []


async def test_message_too_old_to_delete_is_explained(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, chats.group, chats.olga, "/memesonly on", expect="Memes-only is on")
    tg.fail_next("deleteMessage", 400, "Bad Request: message can't be deleted")
    tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    told = await tg.wait_for_message(chats.group, containing="can't remove")
    assert told.text is not None and "older than 48 hours" in told.text


async def test_classify_as_a_reply_to_a_photo(bot: TelegramAdapter, tg: FakeTelegram, chats: Chats) -> None:
    await say(tg, chats.group, chats.olga, "/autoreply off", expect="Auto-replies off")
    photo = tg.send_photo(chats.group, chats.alice, not_meme_jpeg())
    command = tg.send_text(chats.group, chats.alice, "/classify", reply_to=photo)
    verdict = await tg.wait_for_message(chats.group, containing="Not a meme")
    assert verdict.reply_to == command["message_id"] and len(verdict.buttons) == 2

    tg.send_text(chats.group, chats.alice, "/classify")
    await tg.wait_for_message(chats.group, containing="Reply to a message with an image")


async def test_photo_captioned_classify_is_judged(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, chats.group, chats.olga, "/autoreply off", expect="Auto-replies off")
    photo = tg.send_photo(chats.group, chats.alice, meme_jpeg())
    captioned = {  # the fake marks commands in texts only; Telegram marks them in captions too
        **photo,
        "message_id": photo["message_id"] + 100,
        "caption": "/classify",
        "caption_entities": [{"type": "bot_command", "offset": 0, "length": len("/classify")}],
    }
    tg.post_update("message", captioned)
    verdict = await tg.wait_for_message(chats.group, containing="😂 Meme")
    assert verdict.reply_to is None  # replying to a message the fake never stored: sent without it


async def test_correct_replying_to_the_verdict(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    verdict = await tg.wait_for_message(chats.group, containing="😂 Meme")
    group_id = str(chats.group["id"])

    async def reply_recorded() -> bool:
        found = await repo.find_classification(
            platform="telegram", chat_id=group_id, reply_message_id=str(verdict.message_id)
        )
        return found is not None

    await eventually(reply_recorded)
    await say(
        tg, chats.group, chats.alice, "/correct not_meme", reply_to=verdict.message_id, expect="Thanks!"
    )
    stats = await repo.chat_stats(platform="telegram", chat_id=group_id)
    assert (stats.feedback_votes, stats.corrections) == (1, 1)


async def test_commands_for_this_bot_by_name_and_not_for_others(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    tg.send_text(chats.group, chats.alice, "/help@some_other_bot")
    tg.send_text(chats.group, chats.alice, "/ban spammer")  # another bot's command, unaddressed
    await say(tg, chats.group, chats.alice, "/help@MemeBot_Test_Bot", expect="I tell memes")
    unknown = await say(tg, chats.group, chats.alice, "/frobnicate@memebot_test_bot", expect="I don't know")

    assert unknown.text == "I don't know /frobnicate. Try /help."
    assert len(tg.sent_messages(chats.group)) == 2


async def test_unknown_command_in_a_private_chat_is_answered(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, tg.private_chat(chats.alice), chats.alice, "/frobnicate", expect="I don't know /frobnicate")


async def test_export_sends_the_corrections_as_a_zip_document(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats
) -> None:
    await say(tg, chats.group, chats.mo, "/export", expect="nothing to export")
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    verdict = await tg.wait_for_message(chats.group, containing="😂 Meme")
    tg.press_button(chats.group, chats.alice, verdict.message_id, verdict.buttons[1][1] or "")
    await tg.wait_for(lambda: tg.callback_answers)

    export = await say(tg, chats.group, chats.mo, "/export", expect="corrected images")
    assert export.kind == "document" and export.upload is not None
    assert export.upload.filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(export.upload.data)) as archive:
        names = archive.namelist()
        assert "labels.csv" in names and any(name.startswith("not_meme/") for name in names)
