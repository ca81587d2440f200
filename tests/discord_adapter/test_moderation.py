"""Memes-only channels on Discord: who may switch them on, download-then-delete, notices, rights."""

from __future__ import annotations

import asyncio

from storage import ClassificationRecord
from tests.discord_adapter.conftest import Bot, World, eventually, image_file
from tests.fakes.discord_api import Channel, StoredMessage
from tests.modelfactory import meme_jpeg, not_meme_jpeg


async def memes_only(bot: Bot, world: World, channel: Channel) -> str:
    interaction = await bot.fake.slash_command(channel, world.mod, "memesonly", {"state": "on"})
    answer = await bot.answer(interaction)
    assert answer.ephemeral
    return answer.content


async def record_of(bot: Bot, posted: StoredMessage) -> ClassificationRecord:
    async def found() -> ClassificationRecord | None:
        record = await bot.repo.find_classification(
            platform="discord", chat_id=str(posted.channel.id), message_id=str(posted.id)
        )
        return record if record is not None and record.action_taken else None

    return await eventually(found)


async def test_a_non_meme_is_downloaded_then_deleted_and_the_notice_removes_itself(
    bot: Bot, world: World
) -> None:
    fake = bot.fake
    assert (await memes_only(bot, world, world.memes)).startswith("Memes-only is on.")
    kept = await fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    posted = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg())])

    await fake.wait_for(lambda: posted.deleted)
    record = await record_of(bot, posted)
    assert record.action_taken == "deleted" and record.label == "not_meme"
    assert await bot.repo.has_image(record.image_sha256)  # the copy was taken before the delete
    notice = next(m for m in fake.bot_messages(world.memes, include_deleted=True) if "Removed" in m.content)
    assert notice.content.startswith("🚫 Removed a non-meme from alice")
    assert "press Appeal within 1 minute" in notice.content  # then it removes itself (tests/bot)
    [appeal] = notice.custom_ids
    refused = await fake.press_button(notice, world.mod, appeal)
    assert (await bot.answer(refused)).content == "Only the poster can appeal."
    appealed = await fake.press_button(notice, world.alice, appeal)
    assert (await bot.answer(appealed)).content.startswith("Appeal sent")
    item = await bot.repo.moderation.find_item(classification_id=record.id, kind="appeal")
    assert item is not None and item.open and item.poster_id == str(world.alice.id)
    assert not kept.deleted and (await bot.reply_to(kept)).content.startswith("😂 Meme")

    by_mod = await fake.post_message(world.memes, world.mod, attachments=[image_file(not_meme_jpeg(1))])
    assert (await bot.reply_to(by_mod)).content.startswith("🖼️ Not a meme")  # moderators are exempt
    assert not by_mod.deleted


async def test_a_forwarded_non_meme_is_removed_and_its_original_left_alone(bot: Bot, world: World) -> None:
    fake = bot.fake
    await memes_only(bot, world, world.memes)
    original = await fake.post_message(world.general, world.alice, attachments=[image_file(not_meme_jpeg(2))])
    await bot.reply_to(original)
    forward = await fake.forward_message(original, world.memes, world.alice)

    await fake.wait_for(lambda: forward.deleted)
    assert (await record_of(bot, forward)).action_taken == "deleted"
    assert not original.deleted


async def test_a_member_without_manage_messages_cannot_turn_memes_only_on(bot: Bot, world: World) -> None:
    interaction = await bot.fake.slash_command(world.memes, world.alice, "memesonly", {"state": "on"})

    answer = await bot.answer(interaction)
    assert answer.ephemeral and answer.content == "Sorry, only moderators can use /memesonly that way."
    settings = await bot.repo.get_chat_settings(platform="discord", chat_id=str(world.memes.id))
    assert not settings.memes_only


async def test_the_bot_says_clearly_when_it_lacks_manage_messages(bot: Bot, world: World) -> None:
    fake = bot.fake
    interaction = await fake.slash_command(world.general, world.mod, "memesonly", {"state": "on"})
    hint = await bot.answer(interaction, 1)
    assert hint.ephemeral and "I don't have the Manage Messages permission" in hint.content

    posted = await fake.post_message(world.general, world.alice, attachments=[image_file(not_meme_jpeg())])
    reply = await bot.reply_to(posted)
    assert "can't remove that image: I need the Manage Messages permission in this channel." in reply.content
    assert "Not a meme" in reply.content  # the verdict and the notice, in one reply
    await asyncio.sleep(0.3)
    assert [m.id for m in fake.bot_messages(world.general) if m.reference_id == posted.id] == [reply.id]
    assert not posted.deleted
    assert (await record_of(bot, posted)).action_taken == "delete_failed"


async def test_a_burst_of_deletes_rides_out_a_rate_limit(bot: Bot, world: World) -> None:
    fake = bot.fake
    await memes_only(bot, world, world.memes)
    fake.fail_next("DELETE", f"/channels/{world.memes.id}/messages/*", 429, count=2)
    posts = [
        await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg(i))])
        for i in range(4)
    ]

    await fake.wait_for(lambda: all(p.deleted for p in posts), timeout=10)
    statuses = [c.status for c in fake.calls_to("DELETE", f"/channels/{world.memes.id}/messages/*")]
    assert statuses.count(429) == 2 and statuses.count(204) >= 4


async def test_warn_mode_and_threshold_are_set_by_moderators(bot: Bot, world: World) -> None:
    fake = bot.fake
    await memes_only(bot, world, world.memes)
    mode = await fake.slash_command(world.memes, world.mod, "mode", {"action": "warn"})
    assert (await bot.answer(mode)).content.startswith("Mode set to warn")
    threshold = await fake.slash_command(world.memes, world.mod, "threshold", {"value": 0.6})
    assert (await bot.answer(threshold)).content.startswith("Threshold set to 0.60")

    posted = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg())])
    reply = await bot.reply_to(posted)
    assert "This chat is memes only" in reply.content and not posted.deleted


async def test_a_message_already_gone_when_deleting_is_no_failure(bot: Bot, world: World) -> None:
    fake = bot.fake
    await memes_only(bot, world, world.memes)
    fake.fail_next("DELETE", f"/channels/{world.memes.id}/messages/*", 404)  # someone was quicker
    posted = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg())])

    assert (await record_of(bot, posted)).action_taken == "delete_failed"
    later = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg(1))])
    await fake.wait_for(lambda: later.deleted)  # and the bot carries on


async def test_a_download_that_fails_costs_only_its_own_image(bot: Bot, world: World) -> None:
    fake = bot.fake
    fake.break_download("broken.jpg", count=100)
    files = [image_file(meme_jpeg(), "fine.jpg"), image_file(meme_jpeg(1), "broken.jpg")]
    posted = await fake.post_message(world.general, world.alice, attachments=files)
    reply = await bot.reply_to(posted)
    assert "1. 😂 Meme" in reply.content and "2. ⚠️ I couldn't download that image" in reply.content

    await memes_only(bot, world, world.memes)
    files = [image_file(meme_jpeg(2), "broken.jpg"), image_file(not_meme_jpeg(), "photo.jpg")]
    posted = await fake.post_message(world.memes, world.alice, attachments=files)
    await fake.wait_for(lambda: posted.deleted)  # the non-meme beside it still goes
    assert (await bot.stats(world.memes)).images == 1


async def test_an_appeal_decided_from_slash_review_tells_the_poster_by_dm(bot: Bot, world: World) -> None:
    fake = bot.fake
    await memes_only(bot, world, world.memes)
    posted = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg())])
    await fake.wait_for(lambda: posted.deleted)
    notice = await fake.wait_for(
        lambda: next((m for m in fake.bot_messages(world.memes) if "Removed" in m.content), None)
    )
    appealed = await fake.press_button(notice, world.alice, notice.custom_ids[0])
    assert (await bot.answer(appealed)).content.startswith("Appeal sent")

    review = await fake.slash_command(world.memes, world.mod, "review", {})
    item = await bot.answer(review)
    assert item.ephemeral and "Appeal by alice" in item.content and item.message is not None
    assert len(item.message.uploads) == 1  # the stored copy, shown with the buttons
    keep_removed = item.message.custom_ids[1]
    decided = await fake.press_button(item.message, world.mod, keep_removed)
    assert (await bot.answer(decided)).content.startswith("✋ Appeal rejected")
    dm = fake.dm_channel(world.alice)
    told = await fake.wait_for(lambda: fake.bot_messages(dm))
    assert "kept the removal" in told[0].content


async def test_a_moderators_label_stops_a_repost_being_removed(bot: Bot, world: World) -> None:
    fake = bot.fake
    chart = not_meme_jpeg(7)
    first = await fake.post_message(world.memes, world.alice, attachments=[image_file(chart)])
    verdict = await bot.reply_to(first)
    assert verdict.content.startswith("🖼️ Not a meme")
    _, wrong = verdict.custom_ids
    labelled = await bot.answer(await fake.press_button(verdict, world.mod, wrong))
    assert labelled.content.startswith("Thanks! Noted: meme. That's this chat's label")
    await memes_only(bot, world, world.memes)

    repost = await fake.post_message(world.memes, world.alice, attachments=[image_file(chart)])
    assert (await bot.reply_to(repost)).content.startswith("😂 Meme (a moderator's label)")
    other = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg(8))])
    await fake.wait_for(lambda: other.deleted)
    assert not repost.deleted
