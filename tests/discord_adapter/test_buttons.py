"""Right/wrong buttons: a press records a vote and is acknowledged privately, even after a restart."""

from __future__ import annotations

from tests.discord_adapter.conftest import Bot, StartBot, World, image_file
from tests.modelfactory import meme_jpeg


async def test_pressing_wrong_records_a_correction_and_answers_only_the_presser(
    bot: Bot, world: World
) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    verdict = await bot.reply_to(posted)
    right, wrong = verdict.custom_ids

    press = await bot.fake.press_button(verdict, world.alice, wrong)
    answer = await bot.answer(press)
    assert press.replies[0].type == 5 and press.replies[0].ephemeral  # acknowledged at once
    assert answer.content.startswith("Thanks! Noted: not a meme.") and answer.ephemeral
    assert (await bot.stats(world.memes)).corrections == 1

    again = await bot.fake.press_button(verdict, world.mod, right)
    assert (await bot.answer(again)).content.startswith("Thanks! Noted: meme. That's this chat's label")
    stats = await bot.stats(world.memes)
    assert (stats.feedback_votes, stats.agreeing_votes) == (2, 1)
    assert all(len([r for r in p.replies if r.kind == "callback"]) == 1 for p in (press, again))


async def test_buttons_keep_working_after_a_restart(start_bot: StartBot, world: World) -> None:
    first = await start_bot()
    posted = await first.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    verdict = await first.reply_to(posted)
    await first.stop()

    second = await start_bot()  # a new client, core and repository on the same database file
    press = await second.fake.press_button(verdict, world.alice, verdict.custom_ids[1])
    assert (await second.answer(press)).content.startswith("Thanks! Noted: not a meme.")
    assert (await second.stats(world.memes)).corrections == 1


async def test_a_button_that_is_not_ours_gets_a_polite_answer(bot: Bot, world: World) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    verdict = await bot.reply_to(posted)
    verdict.payload["components"][0]["components"][0]["custom_id"] = "something:else"

    press = await bot.fake.press_button(verdict, world.alice, "something:else")
    assert (await bot.answer(press)).content == "That button isn't one of mine."
