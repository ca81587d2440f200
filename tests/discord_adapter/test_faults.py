"""Platform faults: rate limits, refusals, reconnects, bad tokens and intents; the token never logged."""

from __future__ import annotations

import asyncio
import logging
import socket

import discord
import pytest

from bot.adapters.discord import DiscordAdapter
from bot.config import DiscordConfig, Secret
from bot.errors import ConfigError, StartupError
from bot.events import Event
from tests.discord_adapter.conftest import Bot, StartBot, World, eventually, image_file
from tests.fakes.discord.client import point_discord_py_at
from tests.fakes.discord_api import MISSING_PERMISSIONS, FakeDiscord, Permission
from tests.modelfactory import meme_jpeg, not_meme_jpeg


async def ignore(event: Event) -> None:
    return None


async def test_a_rate_limited_reply_still_arrives(bot: Bot, world: World) -> None:
    bot.fake.fail_next("POST", f"/channels/{world.memes.id}/messages", 429)
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])

    assert (await bot.reply_to(posted)).content.startswith("😂 Meme")
    assert [c.status for c in bot.fake.calls_to("POST", f"/channels/{world.memes.id}/messages")] == [429, 200]


async def test_a_refused_reply_is_sent_as_a_plain_message(
    bot: Bot, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    bot.fake.fail_next("POST", f"/channels/{world.memes.id}/messages", 403, MISSING_PERMISSIONS)
    await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])

    sent = await bot.fake.wait_for(lambda: bot.fake.bot_messages(world.memes))
    assert sent[0].content.startswith("😂 Meme") and sent[0].reference_id is None
    assert "refused a reply; trying a plain message" in caplog.text


async def test_a_channel_the_bot_may_not_post_in_is_skipped_quietly(
    bot: Bot, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot.fake.set_overwrite(world.general, world.guild.bot_role, deny=Permission.SEND_MESSAGES)
    await bot.fake.post_message(world.general, world.alice, attachments=[image_file(meme_jpeg())])

    await bot.fake.wait_for(lambda: bot.fake.calls_to("POST", f"/channels/{world.general.id}/messages"))
    await eventually(lambda: _logged(caplog, "is closed to the bot"))
    assert bot.fake.bot_messages(world.general) == []  # and nothing logged as an error (fixture)


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text


async def test_a_rate_limited_button_acknowledgement_loses_no_vote(bot: Bot, world: World) -> None:
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    verdict = await bot.reply_to(posted)
    bot.fake.fail_next("POST", "/interactions/*/*/callback", 429)

    press = await bot.fake.press_button(verdict, world.alice, verdict.custom_ids[1])
    assert (await bot.answer(press)).content.startswith("Thanks! Noted: not a meme.")
    assert (await bot.stats(world.memes)).corrections == 1


async def test_a_command_discord_knows_but_the_bot_no_longer_has_gets_an_answer(
    bot: Bot, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    bot.adapter.tree.remove_command("stats")  # as if Discord still listed a command from an older version
    interaction = await bot.fake.slash_command(world.memes, world.alice, "stats")

    answer = await bot.answer(interaction)
    assert answer.ephemeral and answer.content == "That command just changed. Please try again in a minute."
    assert "Discord command out of date" in caplog.text


async def test_gateway_reconnects_resume_and_the_bot_keeps_working(bot: Bot, world: World) -> None:
    fake = bot.fake
    await fake.force_reconnect("reconnect")
    first = await fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg(1))])
    assert (await bot.reply_to(first)).content.startswith("😂 Meme")

    await fake.force_reconnect("close", wait=False)
    missed = await fake.post_message(world.memes, world.alice, attachments=[image_file(not_meme_jpeg(2))])
    assert (await bot.reply_to(missed)).content.startswith("🖼️ Not a meme")
    assert (fake.identify_count, fake.resume_count) == (1, 2)


async def test_the_token_never_reaches_the_logs(
    start_bot: StartBot, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = await start_bot()
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    verdict = await bot.reply_to(posted)
    await bot.answer(await bot.fake.press_button(verdict, world.alice, verdict.custom_ids[0]))
    await bot.stop()

    assert "discord" in caplog.text and bot.fake.token not in caplog.text


async def test_a_wrong_token_stops_start_up_with_a_clear_message(
    fake: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = DiscordAdapter(DiscordConfig(token=Secret("wrong-token-1234")), ignore, max_file_bytes=1 << 20)

    with pytest.raises(ConfigError, match=r"\[discord\] token was rejected") as raised:
        await adapter.start()
    assert "wrong-token-1234" not in str(raised.value) + caplog.text
    await adapter.wait_closed()  # never connected: returns at once


async def test_a_missing_message_content_intent_says_how_to_enable_it() -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        fake.add_guild()
        adapter = DiscordAdapter(
            DiscordConfig(token=Secret(fake.token)), ignore, max_file_bytes=1 << 20, guild_ready_timeout=0.05
        )
        with pytest.raises(ConfigError, match="Message Content Intent"):
            await adapter.start()
        assert adapter.client.is_closed()


async def test_wait_closed_returns_when_discord_ends_the_session(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    # Discord closes with 4004 when the token is revoked while connected.
    for connection in list(bot.fake._gateway.connections):
        await connection.ws.close(code=4004, message=b"Authentication failed.")

    await asyncio.wait_for(bot.adapter.wait_closed(), 5)
    assert "the Discord connection ended: [discord] token was rejected" in caplog.text
    caplog.clear()  # the error logged above is the point of this test


async def test_shard_count_uses_the_auto_sharded_client(start_bot: StartBot, world: World) -> None:
    bot = await start_bot(shard_count=1)
    assert isinstance(bot.adapter.client, discord.AutoShardedClient)
    posted = await bot.fake.post_message(world.memes, world.alice, attachments=[image_file(meme_jpeg())])
    assert (await bot.reply_to(posted)).content.startswith("😂 Meme")
    identify = next(f for f in bot.fake.gateway_frames if f["op"] == 2)
    assert identify["d"]["shard"] == [0, 1]


async def test_stop_disconnects_and_wait_closed_returns(bot: Bot) -> None:
    await bot.adapter.stop()
    await asyncio.wait_for(bot.adapter.wait_closed(), 5)
    await bot.fake.wait_for(lambda: bot.fake.open_connections == 0)


async def test_no_network_at_start_is_retried_then_one_line_without_voice_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    restore = point_discord_py_at(api_url=f"{url}/api/v10", gateway_url=f"ws://127.0.0.1:{port}", cdn_url=url)
    try:
        config = DiscordConfig(token=Secret("MTIz.secret-discord-token"), startup_retry_s=1.5)
        adapter = DiscordAdapter(config, ignore, max_file_bytes=1 << 20)
        with pytest.raises(StartupError, match="check the network") as raised:
            await adapter.start()
    finally:
        restore()
    assert "\n" not in str(raised.value) and "secret-discord-token" not in str(raised.value) + caplog.text
    assert caplog.text.count("retrying in") == 2
    assert "PyNaCl" not in caplog.text and "davey" not in caplog.text and "voice" not in caplog.text
