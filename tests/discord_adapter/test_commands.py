"""Slash commands and context menus: synced at start, deferred, answered by the core."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.discord_adapter.conftest import Bot, StartBot, World, image_file
from tests.fakes.discord_api import Permission, StoredMessage
from tests.modelfactory import meme_jpeg, not_meme_jpeg

SLASH = ["autoreply", "classify", "correct", "explain", "export", "help", "memeify", "memesonly", "mode"]
SLASH += ["stats", "threshold", "report"]
MODERATION = ["review", "reviewchat", "review_threshold", "labels", "unlabel", "audit"]
SLASH += MODERATION
FACE = (Path(__file__).resolve().parents[1] / "imaging" / "data" / "astronaut.jpg").read_bytes()
MENUS = ["Classify image", "Explain verdict", "Mark as meme", "Mark as not a meme", "Memeify"]


async def verdict_for(bot: Bot, world: World, data: bytes) -> tuple[StoredMessage, StoredMessage]:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(data)])
    return posted, await bot.reply_to(posted)


async def test_commands_are_registered_globally_with_moderator_defaults(bot: Bot, world: World) -> None:
    commands = {c["name"]: c for c in bot.fake.commands()}
    assert sorted(commands) == sorted(SLASH + MENUS)
    assert {c["type"] for n, c in commands.items() if n in MENUS} == {3}  # message context menus
    moderator_only = {n for n, c in commands.items() if c["default_member_permissions"]}
    assert moderator_only == {"autoreply", "export", "memesonly", "mode", "threshold", *MODERATION}
    assert int(commands["memesonly"]["default_member_permissions"]) == Permission.MANAGE_MESSAGES


async def test_commands_go_to_the_configured_guilds_only(start_bot: StartBot, world: World) -> None:
    bot = await start_bot(guild_ids=(world.guild.id,))
    assert bot.fake.commands() == []
    assert sorted(c["name"] for c in bot.fake.commands(world.guild)) == sorted(SLASH + MENUS)


async def test_slash_classify_judges_an_uploaded_file(bot: Bot, world: World) -> None:
    interaction = await bot.fake.slash_command(
        world.memes, world.alice, "classify", {"image": image_file(not_meme_jpeg(), "photo.jpg")}
    )

    answer = await bot.answer(interaction)
    assert interaction.replies[0].type == 5  # deferred at once: a verdict may take longer than 3 s
    assert answer.content.startswith("🖼️ Not a meme (") and not answer.ephemeral
    assert answer.message is not None and len(answer.message.custom_ids) == 2


async def test_context_menu_classifies_an_existing_message(bot: Bot, world: World) -> None:
    fake = bot.fake
    interaction = await fake.context_menu(
        world.memes, world.mod, "Classify image", (await verdict_for(bot, world, meme_jpeg()))[0]
    )
    assert (await bot.answer(interaction)).content.startswith("😂 Meme (")

    text = await fake.post_message(world.memes, world.alice, "no picture here")
    refused = await bot.answer(await fake.context_menu(world.memes, world.alice, "Classify image", text))
    assert refused.ephemeral and refused.content.startswith("That message has no image I can check")


async def test_correct_the_latest_verdict_or_a_linked_message(bot: Bot, world: World) -> None:
    fake = bot.fake
    first, _ = await verdict_for(bot, world, meme_jpeg(1))
    await verdict_for(bot, world, meme_jpeg(2))

    latest = await fake.slash_command(world.memes, world.alice, "correct", {"label": "not_meme"})
    assert (await bot.answer(latest)).content.startswith("Thanks! Noted: not a meme.")
    link = f"https://discord.com/channels/{world.guild.id}/{world.memes.id}/{first.id}"
    linked = await fake.slash_command(
        world.memes, world.mod, "correct", {"label": "not_meme", "message": link}
    )
    assert (await bot.answer(linked)).content.startswith("Thanks! Noted: not a meme.")

    stats = await bot.stats(world.memes)
    assert (stats.feedback_votes, stats.corrections) == (2, 2)
    wrong = await fake.slash_command(
        world.memes, world.alice, "correct", {"label": "meme", "message": "banana"}
    )
    refused = await bot.answer(wrong)
    assert refused.ephemeral and refused.content.startswith("Give a message link")
    assert [r.kind for r in wrong.replies] == ["callback", "delete", "followup"]  # no "thinking…" left


async def test_mark_as_context_menus_correct_an_image(bot: Bot, world: World) -> None:
    posted, verdict = await verdict_for(bot, world, not_meme_jpeg())
    on_image = await bot.fake.context_menu(world.memes, world.alice, "Mark as meme", posted)
    assert (await bot.answer(on_image)).content.startswith("Thanks! Noted: meme.")
    on_verdict = await bot.fake.context_menu(world.memes, world.mod, "Mark as meme", verdict)
    assert (await bot.answer(on_verdict)).content.startswith("Thanks! Noted: meme.")
    assert (await bot.stats(world.memes)).corrections == 2


async def test_export_sends_the_corrections_as_a_zip(bot: Bot, world: World) -> None:
    fake = bot.fake
    posted, _ = await verdict_for(bot, world, meme_jpeg())
    await bot.answer(await fake.context_menu(world.memes, world.mod, "Mark as not a meme", posted))

    interaction = await fake.slash_command(world.memes, world.mod, "export")
    answer = await bot.answer(interaction)
    assert answer.ephemeral and answer.content.startswith("1 corrected images")
    upload = answer.uploads[0]
    assert upload.filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(upload.data)) as archive:
        assert "labels.csv" in archive.namelist()
        assert any(name.startswith("not_meme/") for name in archive.namelist())


async def test_stats_and_help(bot: Bot, world: World) -> None:
    await verdict_for(bot, world, meme_jpeg())
    stats = await bot.answer(await bot.fake.slash_command(world.memes, world.alice, "stats"))
    assert stats.content.startswith("Images checked: 1") and not stats.ephemeral

    help_ = await bot.answer(await bot.fake.slash_command(world.memes, world.alice, "help"))
    assert help_.ephemeral and "/memesonly on|off|status" in help_.content


async def test_explain_answers_with_a_heatmap_picture(bot: Bot, world: World) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    interaction = await bot.fake.context_menu(world.memes, world.alice, "Explain verdict", posted)

    answer = await bot.answer(interaction)
    assert answer.content.startswith("😂 Meme (") and "Red marks" in answer.content
    assert answer.uploads[0].filename == "explain.png" and answer.uploads[0].data.startswith(b"\x89PNG")


async def test_memeify_menu_answers_with_a_captioned_picture(bot: Bot, world: World) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(FACE, "me.jpg")])
    await bot.reply_to(posted)
    answer = await bot.answer(await bot.fake.context_menu(world.memes, world.alice, "Memeify", posted))
    assert answer.uploads and len(answer.uploads[0].data) > 10_000


async def test_slash_memeify_without_a_face_says_so(bot: Bot, world: World) -> None:
    interaction = await bot.fake.slash_command(
        world.memes, world.alice, "memeify", {"image": image_file(meme_jpeg(), "plain.jpg")}
    )
    answer = await bot.answer(interaction)
    assert "couldn't find a face" in answer.content


async def test_review_threshold_and_audit_as_slash_commands(bot: Bot, world: World) -> None:
    interaction = await bot.fake.slash_command(world.memes, world.mod, "review_threshold", {"value": "0.6"})
    answer = await bot.answer(interaction)
    assert answer.ephemeral and "Review band: non-memes I'm 60% to 80% sure of" in answer.content
    audit = await bot.answer(await bot.fake.slash_command(world.memes, world.mod, "audit", {}))
    assert "review_threshold: 0.5 → 0.6" in audit.content
    refused = await bot.answer(await bot.fake.slash_command(world.memes, world.alice, "audit", {}))
    assert "only moderators" in refused.content
