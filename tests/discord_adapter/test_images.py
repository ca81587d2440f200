"""Images posted on Discord: attachments, albums, GIF links unfurled later, stickers, edits."""

from __future__ import annotations

import os

from storage import ClassificationRecord
from tests.discord_adapter.conftest import Bot, StartBot, World, eventually, image_file, png
from tests.modelfactory import meme_jpeg, not_meme_jpeg


async def test_posted_meme_gets_a_verdict_with_feedback_buttons(bot: Bot, world: World) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])

    reply = await bot.reply_to(posted)
    assert reply.content.startswith("😂 Meme (")

    async def recorded() -> ClassificationRecord | None:
        found = await bot.repo.find_classification(
            platform="discord", chat_id=str(world.memes.id), message_id=str(posted.id)
        )
        return found if found is not None and found.reply_message_id else None

    record = await eventually(recorded)
    assert record.label == "meme" and record.reply_message_id == str(reply.id)
    assert reply.custom_ids == [f"fb:{record.id}:r", f"fb:{record.id}:w"]
    assert await bot.repo.has_image(record.image_sha256)


async def test_a_forwarded_image_is_judged_and_can_be_classified_again(bot: Bot, world: World) -> None:
    fake = bot.fake
    original = await fake.post_message(world.general, world.mod, attachments=[image_file(meme_jpeg(3))])
    await bot.reply_to(original)
    forward = await fake.forward_message(original, world.memes, world.alice)
    assert forward.payload["content"] == "" and forward.payload["attachments"] == []  # all in the snapshot

    assert (await bot.reply_to(forward)).content.startswith("😂 Meme (")
    menu = await fake.context_menu(world.memes, world.mod, "Classify image", forward)
    assert (await bot.answer(menu)).content.startswith("😂 Meme (")


async def test_several_images_in_one_message_get_one_numbered_reply(bot: Bot, world: World) -> None:
    files = [
        image_file(meme_jpeg(1), "a.jpg"),
        image_file(not_meme_jpeg(2), "b.jpg"),
        image_file(meme_jpeg(3)),
    ]
    posted = await bot.fake.post_message(world.memes, world.alice, "three", attachments=files)

    reply = await bot.reply_to(posted)
    lines = reply.content.splitlines()
    assert [line[:2] for line in lines] == ["1.", "2.", "3."] and "Not a meme" in lines[1]
    assert len(reply.custom_ids) == 6
    await bot.fake.settle()
    assert len(bot.fake.bot_messages(world.memes)) == 1


async def test_a_gif_link_is_judged_once_discord_adds_its_embed(bot: Bot, world: World) -> None:
    fake = bot.fake
    link = "https://tenor.com/view/bright-meme-123"
    posted = await fake.post_message(world.memes, world.alice, link)
    await fake.unfurl(posted, [fake.link_embed(link, ("bright.png", png()))])

    reply = await bot.reply_to(posted)
    assert reply.content.startswith("😂 Meme (") and "Tenor GIF's preview frame" in reply.content


async def test_an_image_link_embed_is_judged(bot: Bot, world: World) -> None:
    fake = bot.fake
    link = "https://example.org/dark.png"
    posted = await fake.post_message(world.memes, world.alice, link)
    await fake.unfurl(posted, [fake.link_embed(link, ("dark.png", png((8, 8, 8))), kind="image")])

    assert (await bot.reply_to(posted)).content.startswith("🖼️ Not a meme (")


async def test_png_stickers_are_judged_and_lottie_ones_left_alone(bot: Bot, world: World) -> None:
    fake = bot.fake
    lottie = await fake.post_message(
        world.memes, world.alice, sticker_items=[fake.sticker("wave", b"{}", format_type=3)]
    )
    sticker = await fake.post_message(world.memes, world.alice, sticker_items=[fake.sticker("pepe", png())])

    reply = await bot.reply_to(sticker)
    assert reply.content.startswith("😂 Meme (") and reply.content.endswith("— sticker")
    assert [m.reference_id for m in fake.bot_messages(world.memes)] == [sticker.id]
    assert lottie.id not in {m.reference_id for m in fake.bot_messages(world.memes)}


async def test_an_edit_that_adds_an_image_is_judged_and_a_text_edit_is_not(bot: Bot, world: World) -> None:
    fake = bot.fake
    posted = await fake.post_message(world.memes, world.alice, "wait for it")
    await fake.edit_message(posted, content="wait for it...")
    await fake.edit_message(posted, attachments=[image_file(not_meme_jpeg())])

    reply = await bot.reply_to(posted)
    assert reply.content.startswith("🖼️ Not a meme (")
    await fake.edit_message(posted, content="edited the text only")
    await fake.settle()
    assert len(fake.bot_messages(world.memes)) == 1


async def test_other_files_and_bots_are_ignored(bot: Bot, world: World) -> None:
    fake = bot.fake
    other_bot = fake.add_member(world.guild, fake.add_user("otherbot", bot=True))
    await fake.post_message(world.memes, world.alice, attachments=[("notes.txt", b"hello")])
    await fake.post_message(world.memes, other_bot, attachments=[image_file(meme_jpeg())])
    by_alice = await fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg(5))])

    await bot.reply_to(by_alice)
    answered = {m.reference_id for m in fake.bot_messages(world.memes)}
    assert answered == {by_alice.id}  # neither the text file nor the other bot's image


async def test_a_file_over_max_file_mb_gets_a_clear_answer(start_bot: StartBot, world: World) -> None:
    bot = await start_bot(max_file_mb=0.1)
    noisy = os.urandom(300 * 1024)  # never decoded: refused by its declared size
    posted = await bot.fake.post_message(
        world.memes, world.alice, attachments=[("big.png", noisy, "image/png")]
    )

    reply = await bot.reply_to(posted)
    assert "too large" in reply.content and "0.1 MB" in reply.content
    assert (await bot.stats(world.memes)).images == 0
