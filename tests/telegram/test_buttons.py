"""Feedback buttons: the vote is stored, the press always answered, and old buttons keep working."""

from __future__ import annotations

from bot.adapters.telegram import TelegramAdapter
from bot.events import Button, ButtonPressed, CommandIssued, Event
from storage import Repository
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import meme_jpeg
from tests.telegram.conftest import Chats, StartBot


async def test_wrong_button_stores_the_correction_and_answers(
    bot: TelegramAdapter, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    verdict = await tg.wait_for_message(chats.group, containing="😂 Meme")
    (_, right), (_, wrong) = verdict.buttons
    assert right and wrong

    query = tg.press_button(chats.group, chats.olga, verdict.message_id, wrong)
    [answer] = await tg.wait_for(lambda: tg.callback_answers)

    assert answer["callback_query_id"] == query["id"]
    assert answer["text"].startswith("Thanks! Noted: not a meme. That's this chat's label for this image")
    stats = await repo.chat_stats(platform="telegram", chat_id=str(chats.group["id"]))
    assert (stats.feedback_votes, stats.corrections) == (1, 1)
    [image] = await repo.labelled_images(platform="telegram")
    assert image.label == "not_meme"  # olga created the group: her vote is trusted


async def test_button_pressed_after_a_restart_still_works(
    start_bot: StartBot, tg: FakeTelegram, chats: Chats, repo: Repository
) -> None:
    first = await start_bot()
    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    verdict = await tg.wait_for_message(chats.group, containing="😂 Meme")
    await first.stop()

    await start_bot()  # a new Application and a new BotCore on the same database
    tg.press_button(chats.group, chats.alice, verdict.message_id, verdict.buttons[0][1] or "")
    [answer] = await tg.wait_for(lambda: tg.callback_answers)

    assert answer["text"].startswith("Thanks! Noted: meme.")
    stats = await repo.chat_stats(platform="telegram", chat_id=str(chats.group["id"]))
    assert (stats.feedback_votes, stats.agreeing_votes) == (1, 1)


async def test_a_press_is_answered_even_when_the_handler_does_not(
    start_bot: StartBot, tg: FakeTelegram, chats: Chats
) -> None:
    presses: list[ButtonPressed] = []

    async def handler(event: Event) -> None:
        if isinstance(event, CommandIssued):  # offer a button, then ignore the press
            await event.ctx.send("pick one", buttons=[Button("this", "pick:1")])
        elif isinstance(event, ButtonPressed):
            presses.append(event)

    await start_bot(handler=handler)
    tg.send_text(chats.group, chats.alice, "/help")
    offer = await tg.wait_for_message(chats.group, containing="pick one")
    query = tg.press_button(chats.group, chats.alice, offer.message_id, "pick:1")
    [answer] = await tg.wait_for(lambda: tg.callback_answers)

    assert answer == {"callback_query_id": query["id"]}  # an empty answer stops the spinner
    [press] = presses
    assert (press.payload, press.message_id, press.sender.user_id) == ("pick:1", str(offer.message_id), "1")
    assert press.ctx.chat_id == str(chats.group["id"])
    assert len(tg.calls_to("answerCallbackQuery")) == 1
