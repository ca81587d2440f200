"""The fake Bot API speaks the protocol the real python-telegram-bot expects."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import zipfile
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from telegram import (
    Animation,
    Bot,
    BotCommandScopeAllChatAdministrators,
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
    Sticker,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram_api import FakeTelegram

GROUP_ID = -1001234567890
VOTE_BUTTONS = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("right", callback_data="vote:right"),
            InlineKeyboardButton("wrong", callback_data="vote:wrong"),
        ]
    ]
)


def image(width: int, height: int, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url) as bot:
        yield bot


# -- a tiny bot, run by the real Application against the fake ---------------------------------


async def greet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message and update.effective_user
    await update.effective_message.reply_text(
        f"hello {update.effective_user.first_name}", reply_markup=VOTE_BUTTONS
    )


async def measure_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message
    largest = update.effective_message.photo[-1]
    data = await (await largest.get_file()).download_as_bytearray()
    await update.effective_message.reply_text(f"{len(data)} bytes")


async def acknowledge(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query
    await query.answer(f"thanks for {query.data}")
    await query.edit_message_reply_markup(None)


@contextlib.asynccontextmanager
async def polling(tg: FakeTelegram) -> AsyncIterator[list[object]]:
    """The real Application, polling the fake; yields the errors its handlers raised."""
    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url).build()
    )
    errors: list[object] = []

    async def record(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        errors.append(context.error)

    app.add_handler(CommandHandler("start", greet))
    app.add_handler(MessageHandler(filters.PHOTO, measure_photo))
    app.add_handler(CallbackQueryHandler(acknowledge))
    app.add_error_handler(record)
    async with app:
        await app.start()
        assert app.updater
        await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
        try:
            yield errors
        finally:
            await app.updater.stop()
            await app.stop()


async def test_commands_are_answered_in_private_and_in_groups(tg: FakeTelegram) -> None:
    alice = tg.user(1, "Alice")
    group = tg.group(GROUP_ID, "Memes")
    async with polling(tg) as errors:
        tg.send_text(tg.private_chat(alice), alice, "/start")
        private_reply = await tg.wait_for_message(alice["id"])
        tg.send_text(group, alice, "/start@someone_else_bot")
        addressed = tg.send_text(group, alice, "/start@memebot_test_bot")
        group_reply = await tg.wait_for_message(group)

    assert (private_reply.text, private_reply.reply_to) == ("hello Alice", None)
    assert private_reply.buttons == [("right", "vote:right"), ("wrong", "vote:wrong")]
    assert [m.reply_to for m in tg.sent_messages(group)] == [addressed["message_id"]]
    assert group_reply.text == "hello Alice"
    assert errors == []
    assert tg.unknown_methods == []


async def test_photo_handler_downloads_the_largest_size(tg: FakeTelegram) -> None:
    alice = tg.user(1, "Alice")
    picture = image(1000, 600)
    async with polling(tg) as errors:
        posted = tg.send_photo(tg.private_chat(alice), alice, picture)
        reply = await tg.wait_for_message(alice["id"], containing="bytes")

    assert [(size["width"], size["height"]) for size in posted["photo"]] == [
        (90, 54),
        (320, 192),
        (800, 480),
        (1000, 600),
    ]
    assert reply.text == f"{len(picture)} bytes"
    assert tg.calls_to("getFile") == [{"file_id": posted["photo"][-1]["file_id"]}]
    assert [call["file_path"] for call in tg.calls_to("downloadFile")] == ["photos/file_4.png"]
    assert errors == []


async def test_button_press_is_answered_and_the_keyboard_removed(tg: FakeTelegram) -> None:
    alice = tg.user(1, "Alice")
    chat = tg.private_chat(alice)
    async with polling(tg) as errors:
        tg.send_text(chat, alice, "/start")
        verdict = await tg.wait_for_message(chat)
        tg.press_button(chat, alice, verdict.message_id, "vote:wrong")
        await tg.wait_for(lambda: verdict.reply_markup is None)

    assert [answer["text"] for answer in tg.callback_answers] == ["thanks for vote:wrong"]
    assert verdict.edits == 1
    assert errors == []
    with pytest.raises(ValueError, match="no button"):
        tg.press_button(chat, alice, verdict.message_id, "vote:right")


async def test_user_side_updates_parse_as_ptb_objects(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    group = tg.group(GROUP_ID, "Memes")
    album = tg.send_album(group, alice, [image(64, 64), image(32, 48)], caption="two")
    tg.send_sticker(group, alice, image(512, 512, "WEBP"), thumbnail=image(128, 128, "JPEG"))
    tg.send_animation(group, alice, image(40, 30, "GIF"), file_name="cat.gif", mime_type="image/gif")
    tg.send_document(group, alice, b"%PDF-1.4", "paper.pdf", "application/pdf")
    photo = tg.send_photo(group, alice, image(20, 20))
    tg.edit_message(group, photo, photo=image(300, 200), caption="better")
    tg.send_text(group, tg.anonymous_admin, "/memesonly on", reply_to=album[0])

    updates = await bot.get_updates(timeout=0)

    first, second, sticker, gif, pdf, _, edit, anonymous = (u.effective_message for u in updates)
    assert first and second and sticker and gif and pdf and edit and anonymous
    assert first.media_group_id == second.media_group_id and first.caption == "two" and second.caption is None
    assert isinstance(sticker.effective_attachment, Sticker) and sticker.sticker.thumbnail  # type: ignore[union-attr]
    assert isinstance(gif.effective_attachment, Animation) and gif.document.file_name == "cat.gif"  # type: ignore[union-attr]
    assert pdf.document and pdf.document.mime_type == "application/pdf"
    assert updates[6].edited_message and edit.photo[-1].width == 300 and edit.caption == "better"
    assert anonymous.sender_chat and anonymous.sender_chat.id == GROUP_ID
    assert anonymous.from_user and anonymous.from_user.username == "GroupAnonymousBot"
    assert anonymous.reply_to_message and anonymous.reply_to_message.message_id == album[0]["message_id"]
    assert anonymous.entities[0].type == "bot_command"


# -- what the bot sends ------------------------------------------------------------------------


async def test_sent_messages_keep_markup_parse_mode_replies_edits_and_deletion(
    tg: FakeTelegram, bot: Bot
) -> None:
    alice = tg.user(1, "Alice")
    group = tg.group(GROUP_ID, "Memes")
    posted = tg.send_photo(group, alice, image(50, 50))

    message = await bot.send_message(
        GROUP_ID,
        "<b>meme</b> (97%)",
        parse_mode="HTML",
        reply_parameters=ReplyParameters(posted["message_id"]),
        reply_markup=VOTE_BUTTONS,
    )
    [sent] = tg.sent_messages(group)
    assert (sent.text, sent.parse_mode, sent.reply_to) == ("<b>meme</b> (97%)", "HTML", posted["message_id"])
    assert message.reply_to_message and message.reply_to_message.photo
    assert message.reply_markup == VOTE_BUTTONS

    await bot.edit_message_text("not a meme (80%)", chat_id=GROUP_ID, message_id=message.message_id)
    assert (sent.text, sent.reply_markup, sent.edits) == ("not a meme (80%)", None, 1)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("not a meme (80%)", chat_id=GROUP_ID, message_id=message.message_id)

    assert await bot.delete_message(GROUP_ID, message.message_id)
    assert sent.deleted and tg.deleted(group) == [message.message_id]


async def test_uploaded_documents_and_photos_arrive_intact(tg: FakeTelegram, bot: Bot) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("labels.csv", "sha256,label\nabc,meme\n")
    export = buffer.getvalue()
    group = tg.group(GROUP_ID, "Memes")

    message = await bot.send_document(GROUP_ID, export, filename="corrections.zip", caption="export")
    heatmap = await bot.send_photo(GROUP_ID, image(400, 300), caption="heatmap")

    [document] = tg.sent_documents(group)
    assert document.upload and document.upload.filename == "corrections.zip"
    assert zipfile.ZipFile(io.BytesIO(document.upload.data)).read("labels.csv").startswith(b"sha256")
    assert message.document and message.document.file_name == "corrections.zip"
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == export
    [photo] = tg.sent_photos(group)
    assert photo.upload and Image.open(io.BytesIO(photo.upload.data)).size == (400, 300)
    assert (photo.caption, heatmap.photo[-1].width) == ("heatmap", 400)


async def test_photos_over_20_mb_cannot_be_fetched(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    posted = tg.send_photo(tg.private_chat(alice), alice, image(400, 400), oversize=True)

    largest, smaller = posted["photo"][-1], posted["photo"][-2]
    assert largest["file_size"] > 20 * 1024 * 1024
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(largest["file_id"])
    assert (await bot.get_file(smaller["file_id"])).file_path


# -- errors, as PTB raises them ----------------------------------------------------------------


async def test_rate_limit_surfaces_as_retry_after_once(
    tg: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # retry_after as a timedelta, without a deprecation warning
    chat = tg.private_chat(tg.user(1, "Alice"))
    tg.fail_next("sendMessage")

    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(chat["id"], "hi")
    assert limited.value.retry_after == dt.timedelta(seconds=1)
    await bot.send_message(chat["id"], "hi again")
    assert [m.text for m in tg.sent_messages(chat)] == ["hi again"]


async def test_forbidden_bad_request_and_migration(tg: FakeTelegram, bot: Bot) -> None:
    group = tg.group(GROUP_ID, "Memes")
    tg.forbid_next("sendMessage")
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(GROUP_ID, "hi")

    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(GROUP_ID, 999)

    tg.migrate_next("sendMessage", new_chat_id=-1009999999999)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(GROUP_ID, "hi")
    assert migrated.value.new_chat_id == -1009999999999

    tg.set_member(group, tg.bot_user, "kicked")
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP_ID, "hi")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(-100404, "hi")


async def test_deleting_others_messages_needs_the_delete_right(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    group = tg.group(GROUP_ID, "Memes")
    tg.set_member(group, tg.bot_user, "member")
    first, second = tg.send_text(group, alice, "one"), tg.send_text(group, alice, "two")

    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(GROUP_ID, first["message_id"])
    own = await bot.send_message(GROUP_ID, "mine")
    assert await bot.delete_message(GROUP_ID, own.message_id)

    tg.set_member(group, tg.bot_user, "administrator", can_delete_messages=True)
    assert await bot.delete_message(GROUP_ID, second["message_id"])
    assert tg.deleted(group) == [own.message_id, second["message_id"]]
    assert tg.message(group, second["message_id"]) is None

    tg.set_member(group, tg.bot_user, "member")
    tg.require_delete_rights = False
    assert await bot.delete_message(GROUP_ID, first["message_id"])


async def test_chat_members_have_the_registered_statuses(tg: FakeTelegram, bot: Bot) -> None:
    owner, mod, member, stranger = (
        tg.user(i, name) for i, name in enumerate(["Olga", "Mo", "Mia", "Sam"], 1)
    )
    group = tg.group(GROUP_ID, "Memes")
    tg.set_member(group, owner, "creator")
    tg.set_member(group, mod, "administrator", can_delete_messages=False)
    tg.send_text(group, member, "hi")

    assert isinstance(await bot.get_chat_member(GROUP_ID, owner["id"]), ChatMemberOwner)
    moderator = await bot.get_chat_member(GROUP_ID, mod["id"])
    assert isinstance(moderator, ChatMemberAdministrator) and not moderator.can_delete_messages
    assert isinstance(await bot.get_chat_member(GROUP_ID, member["id"]), ChatMemberMember)
    assert isinstance(await bot.get_chat_member(GROUP_ID, stranger["id"]), ChatMemberLeft)
    me = await bot.get_chat_member(GROUP_ID, bot.id)
    assert isinstance(me, ChatMemberAdministrator) and me.can_delete_messages
    admins = await bot.get_chat_administrators(GROUP_ID)
    assert sorted(admin.user.id for admin in admins) == sorted([owner["id"], mod["id"], bot.id])
    assert (await bot.get_chat(GROUP_ID)).title == "Memes"


async def test_network_faults_surface_as_network_error_and_timed_out(tg: FakeTelegram, bot: Bot) -> None:
    chat = tg.private_chat(tg.user(1, "Alice"))
    tg.drop_connection_next("sendMessage")
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(chat["id"], "lost")

    tg.stall_next("sendMessage", 0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(chat["id"], "slow", read_timeout=0.05)
    await tg.wait_for(lambda: tg.sent_messages(chat))  # the stalled call still went through
    assert [m.text for m in tg.sent_messages(chat)] == ["slow"]


async def test_unknown_methods_and_tokens_are_refused_visibly(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    with pytest.raises(InvalidToken, match="Not Found: method sendDice"):
        await bot.send_dice(GROUP_ID)
    assert tg.unknown_methods == ["frobnicate", "sendDice"]
    with pytest.raises(ValueError, match="does not speak 'send_message'"):
        tg.fail_next("send_message")

    stranger = Bot("42:wrong", base_url=tg.base_url)
    with pytest.raises(InvalidToken):
        await stranger.initialize()
    await stranger.shutdown()


async def test_commands_and_webhook_are_recorded(tg: FakeTelegram, bot: Bot) -> None:
    await bot.set_my_commands([("classify", "Is it a meme?"), ("stats", "Chat statistics")])
    assert tg.commands == [
        {"command": "classify", "description": "Is it a meme?"},
        {"command": "stats", "description": "Chat statistics"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["classify", "stats"]
    await bot.set_my_commands([("memesonly", "on|off|status")], scope=BotCommandScopeAllChatAdministrators())
    assert tg.commands_for({"type": "all_chat_administrators"})[0]["command"] == "memesonly"

    await bot.set_webhook("https://bot.example/hook")
    assert tg.webhook and tg.webhook["url"] == "https://bot.example/hook"
    assert (await bot.get_webhook_info()).url == "https://bot.example/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert tg.webhook is None and await bot.get_updates() == ()


# -- long polling --------------------------------------------------------------------------------


async def test_long_poll_times_out_empty_and_wakes_for_a_new_update(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=dt.timedelta(seconds=0.3)) == ()
    assert loop.time() - started >= 0.3

    poll = asyncio.create_task(bot.get_updates(timeout=dt.timedelta(seconds=5)))
    await tg.wait_for(lambda: len(tg.calls_to("getUpdates")) == 2)
    started = loop.time()
    posted = tg.send_text(tg.private_chat(alice), alice, "hello")
    [update] = await poll
    assert loop.time() - started < 1
    assert update.message and update.message.message_id == posted["message_id"]


async def test_offset_confirms_updates_and_allowed_updates_filters(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    chat = tg.private_chat(alice)
    tg.send_text(chat, alice, "one")
    tg.send_text(chat, alice, "two")

    _first, second = await bot.get_updates()
    assert [u.update_id for u in await bot.get_updates(offset=second.update_id)] == [second.update_id]
    assert await bot.get_updates(offset=second.update_id + 1) == ()

    verdict = await bot.send_message(chat["id"], "meme", reply_markup=VOTE_BUTTONS)
    tg.press_button(chat, alice, verdict.message_id, "vote:right")
    tg.send_text(chat, alice, "three")
    [only_message] = await bot.get_updates(allowed_updates=["message"])
    assert only_message.message and only_message.message.text == "three"


async def test_shutdown_is_clean_and_stop_answers_a_pending_long_poll(tg: FakeTelegram, bot: Bot) -> None:
    alice = tg.user(1, "Alice")
    async with polling(tg):
        tg.send_text(tg.private_chat(alice), alice, "/start")
        await tg.wait_for_message(alice["id"])

    poll = asyncio.create_task(bot.get_updates(timeout=dt.timedelta(seconds=30)))
    await tg.wait_for(lambda: tg.calls_to("getUpdates")[-1].get("timeout") == 30)
    started = asyncio.get_running_loop().time()
    await tg.stop()
    assert await poll == ()
    assert asyncio.get_running_loop().time() - started < 1
    await bot.shutdown()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
