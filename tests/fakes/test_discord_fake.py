"""The fake Discord against the real discord.py client: gateway, REST, interactions, faults, resumes."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import TypeVar

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fakes.discord_api import (
    MISSING_PERMISSIONS,
    Channel,
    FakeDiscord,
    Guild,
    Permission,
)
from tests.fakes.discord_world import World, build_world, checked_fake


def png(width: int = 64, height: int = 48, colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("P", (32, 32)).save(buffer, "GIF")
    return buffer.getvalue()


class FeedbackView(discord.ui.View):
    """A persistent view, as a bot registers it at start-up to keep old buttons working."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Right", style=discord.ButtonStyle.success, custom_id="feedback:right:7")
    async def right(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await interaction.response.send_message("thanks!", ephemeral=True)

    @discord.ui.button(label="Wrong", style=discord.ButtonStyle.danger, custom_id="feedback:wrong:7")
    async def wrong(self, interaction: discord.Interaction, button: discord.ui.Button[FeedbackView]) -> None:
        await interaction.response.edit_message(content="noted: not a meme", view=None)


class RecordingClient(discord.Client):
    """A plain discord.py client with an app-command tree that queues what it hears."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        intents.members = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.heard: asyncio.Queue[discord.Message] = asyncio.Queue()
        self.edits: asyncio.Queue[tuple[discord.Message, discord.Message]] = asyncio.Queue()
        self.raw_edits: asyncio.Queue[discord.RawMessageUpdateEvent] = asyncio.Queue()
        self.resumes: asyncio.Queue[None] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py sleeps 5 s before every IDENTIFY but the first one

    async def setup_hook(self) -> None:
        self.add_view(FeedbackView())

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            await self.heard.put(message)

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        await self.edits.put((before, after))

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.raw_edits.put(payload)

    async def on_resumed(self) -> None:
        await self.resumes.put(None)


T = TypeVar("T")


async def next_of(queue: asyncio.Queue[T]) -> T:
    return await asyncio.wait_for(queue.get(), 5)


@pytest.fixture
async def fake(caplog: pytest.LogCaptureFixture) -> AsyncIterator[FakeDiscord]:
    async with checked_fake(caplog) as fake:
        yield fake


@pytest.fixture
def world(fake: FakeDiscord) -> World:
    return build_world(fake)


@pytest.fixture
async def client(fake: FakeDiscord, world: World) -> AsyncIterator[RecordingClient]:
    client = RecordingClient()
    async with fake.connected(client):
        yield client


def text_channel(client: discord.Client, channel: Channel) -> discord.TextChannel:
    found = client.get_channel(channel.id)
    assert isinstance(found, discord.TextChannel)
    return found


async def test_ready_fills_the_caches_and_permissions_follow_roles_and_overwrites(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    guild = client.get_guild(world.guild.id)
    assert guild is not None and client.user is not None
    assert client.user.id == fake.bot_user.id and client.application_id == fake.application_id
    assert [c.name for c in guild.text_channels] == ["memes", "general"]
    mod = guild.get_member(world.mod.id)
    assert mod is not None and [r.name for r in mod.roles] == ["@everyone", "mods"]
    memes, general = text_channel(client, world.memes), text_channel(client, world.general)
    assert memes.permissions_for(guild.me).manage_messages
    assert not general.permissions_for(guild.me).manage_messages
    assert general.permissions_for(mod).manage_messages
    assert fake.identify_count == 1 and fake.heartbeat_count >= 1
    # discord.py always asks for a compressed stream (zlib-stream, or zstd-stream with zstandard).
    assert fake.gateway_urls[0].startswith("/gateway?v=10&encoding=json&compress=z")


async def test_posted_attachment_is_readable_and_a_reply_file_arrives_intact(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    image = png(64, 48)
    posted = await fake.post_message(world.memes, world.alice, "look", attachments=[("my cat.png", image)])

    message = await next_of(client.heard)
    assert message.id == posted.id and message.content == "look"
    assert isinstance(message.author, discord.Member) and message.author.id == world.alice.id
    attachment = message.attachments[0]
    assert (attachment.filename, attachment.content_type) == ("my_cat.png", "image/png")
    assert (attachment.width, attachment.height) == (64, 48)
    assert await attachment.read() == image

    verdict = png(8, 8, "red")
    await message.reply("meme (97%)", file=discord.File(io.BytesIO(verdict), "verdict.png"))
    sent = fake.bot_messages(world.memes)[-1]
    assert sent.content == "meme (97%)" and sent.reference_id == posted.id
    assert sent.file("verdict.png").data == verdict
    assert sent.attachments[0]["content_type"] == "image/png"


async def test_stickers_arrive_with_a_downloadable_image(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    image = png(32, 32, "green")
    await fake.post_message(world.memes, world.alice, sticker_items=[fake.sticker("pepe", image)])
    sticker = (await next_of(client.heard)).stickers[0]
    assert sticker.name == "pepe"
    async with aiohttp.ClientSession() as session, session.get(sticker.url) as response:
        assert await response.read() == image


async def test_deleting_a_message_kills_its_attachment_urls(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await fake.post_message(world.memes, world.alice, attachments=[("doc.png", png())])
    message = await next_of(client.heard)
    await message.delete()
    assert fake.messages(world.memes)[0].deleted
    with pytest.raises(discord.NotFound):
        await message.attachments[0].read()


async def test_deleting_without_manage_messages_is_forbidden(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    posted = await fake.post_message(world.general, world.alice, "not a meme")
    message = await next_of(client.heard)
    with pytest.raises(discord.Forbidden) as raised:
        await message.delete()
    assert raised.value.code == 50013 and not posted.deleted


async def test_message_content_is_empty_without_the_intent(fake: FakeDiscord, world: World) -> None:
    client = RecordingClient(message_content=False)
    async with fake.connected(client):
        await fake.post_message(world.memes, world.alice, "hidden", attachments=[("a.png", png())])
        message = await next_of(client.heard)
    assert message.content == "" and message.attachments == []


async def test_privileged_intents_must_be_enabled_for_the_app() -> None:
    async with FakeDiscord(privileged_intents=0) as fake:
        fake.add_guild()
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with fake.connected(RecordingClient()):
                pass


def add_commands(client: RecordingClient, guild: Guild) -> None:
    @client.tree.command(name="classify", description="Classify an image")
    async def classify(interaction: discord.Interaction, image: discord.Attachment) -> None:
        data = await image.read()
        await interaction.response.send_message(f"{image.filename}: {len(data)} bytes", ephemeral=True)

    memesonly = app_commands.Group(name="memesonly", description="Memes-only mode")

    @memesonly.command(name="on", description="Turn memes-only on")
    async def turn_on(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.followup.send("memes only: on", ephemeral=True)

    client.tree.add_command(memesonly, guild=discord.Object(guild.id))

    @client.tree.context_menu(name="Classify image")
    async def classify_message(interaction: discord.Interaction, message: discord.Message) -> None:
        data = await message.attachments[0].read()
        copy = discord.File(io.BytesIO(data), "copy.png")
        await interaction.response.send_message(f"classifying {message.attachments[0].filename}", file=copy)


async def synced(fake: FakeDiscord, world: World, client: RecordingClient) -> None:
    add_commands(client, world.guild)
    await client.tree.sync()
    await client.tree.sync(guild=discord.Object(world.guild.id))


async def test_tree_sync_registers_global_and_guild_commands(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    add_commands(client, world.guild)
    synced_global = await client.tree.sync()
    await client.tree.sync(guild=discord.Object(world.guild.id))

    assert sorted(c.name for c in synced_global) == ["Classify image", "classify"]
    classify = next(c for c in fake.commands() if c["name"] == "classify")
    assert classify["options"][0]["type"] == 11  # attachment
    assert [c["name"] for c in fake.commands(world.guild)] == ["memesonly"]
    assert len(fake.registered_commands) == 3
    assert fake.calls_to("PUT", f"/applications/{fake.application_id}/commands")[0].status == 200


async def test_slash_command_with_an_attachment_is_answered_ephemerally(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await synced(fake, world, client)
    image = png()
    interaction = await fake.slash_command(
        world.memes, world.alice, "classify", {"image": ("cat.png", image)}
    )

    replies = await fake.wait_for(lambda: fake.interaction_responses(interaction))
    assert replies[0].type == 4 and replies[0].ephemeral
    assert replies[0].content == f"cat.png: {len(image)} bytes"


async def test_subcommand_defers_then_follows_up(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await synced(fake, world, client)
    interaction = await fake.slash_command(world.memes, world.mod, "memesonly on")

    replies = await fake.wait_for(lambda: interaction.replies if len(interaction.replies) == 2 else None)
    assert [(r.kind, r.type) for r in replies] == [("callback", 5), ("followup", None)]
    assert replies[1].content == "memes only: on" and replies[1].ephemeral


async def test_message_context_menu_gets_the_target_message(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await synced(fake, world, client)
    target = await fake.post_message(world.memes, world.alice, attachments=[("frog.png", png())])
    interaction = await fake.context_menu(world.memes, world.mod, "Classify image", target)

    replies = await fake.wait_for(lambda: fake.interaction_responses(interaction))
    assert replies[0].content == "classifying frog.png" and not replies[0].ephemeral
    answer = replies[0].message
    assert answer is not None and answer in fake.bot_messages(world.memes)
    assert answer.file("copy.png").data == target.file().data


async def test_persistent_view_buttons_answer_presses(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await text_channel(client, world.memes).send("meme (97%)", view=FeedbackView())
    verdict = fake.bot_messages(world.memes)[-1]
    assert verdict.custom_ids == ["feedback:right:7", "feedback:wrong:7"]

    right = await fake.press_button(verdict, world.alice, "feedback:right:7")
    replies = await fake.wait_for(lambda: fake.interaction_responses(right))
    assert replies[0].content == "thanks!" and replies[0].ephemeral

    await fake.press_button(verdict, world.alice, "feedback:wrong:7")
    await fake.wait_for(lambda: verdict.edited)
    assert verdict.content == "noted: not a meme" and verdict.components == []


async def test_deferred_command_edits_its_original_response_with_a_file(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    heatmap = png(16, 16, "blue")

    @client.tree.command(name="explain", description="Show what the model looked at")
    async def explain(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.edit_original_response(
            content="heatmap", attachments=[discord.File(io.BytesIO(heatmap), "heatmap.png")]
        )

    await client.tree.sync()
    interaction = await fake.slash_command(world.memes, world.alice, "explain")

    replies = await fake.wait_for(lambda: interaction.replies if len(interaction.replies) == 2 else None)
    assert [(r.kind, r.type) for r in replies] == [("callback", 5), ("edit", None)]
    original = interaction.original
    assert original is not None and not original.ephemeral and original.flags == 0  # no longer "thinking"
    assert original.content == "heatmap" and original.file("heatmap.png").data == heatmap


async def test_answering_after_the_deadline_gets_unknown_interaction(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    fake.interaction_deadline = 0.05
    errors: asyncio.Queue[app_commands.AppCommandError] = asyncio.Queue()

    @client.tree.command(name="slow", description="Too slow to answer")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.1)
        await interaction.response.send_message("too late")

    @client.tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await errors.put(error)

    await client.tree.sync()
    interaction = await fake.slash_command(world.memes, world.alice, "slow")
    error = await next_of(errors)
    assert isinstance(error, app_commands.CommandInvokeError) and isinstance(error.original, discord.NotFound)
    assert error.original.code == 10062 and interaction.replies == []


async def test_select_menu_choices_reach_the_view(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    chosen: asyncio.Queue[list[str]] = asyncio.Queue()

    class Labels(discord.ui.View):
        @discord.ui.select(
            custom_id="label", options=[discord.SelectOption(label=v) for v in ("meme", "not_meme")]
        )
        async def label(self, interaction: discord.Interaction, select: discord.ui.Select[Labels]) -> None:
            await chosen.put(select.values)
            await interaction.response.defer()

    await text_channel(client, world.memes).send("which is it?", view=Labels())
    await fake.choose(fake.bot_messages(world.memes)[-1], world.alice, "label", ["not_meme"])
    assert await next_of(chosen) == ["not_meme"]


async def test_direct_messages_come_and_go(fake: FakeDiscord, world: World, client: RecordingClient) -> None:
    dm = fake.dm_channel(world.alice)
    await fake.post_message(dm, world.alice, "is this a meme?", attachments=[("q.png", png())])
    message = await next_of(client.heard)
    assert isinstance(message.channel, discord.DMChannel) and message.guild is None
    assert await message.attachments[0].read() == png()
    await message.channel.send("yes")
    assert [m.content for m in fake.bot_messages(dm)] == ["yes"]


async def test_changes_made_while_connected_reach_the_caches(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    created = asyncio.ensure_future(client.wait_for("guild_channel_create", timeout=5))
    later = fake.add_channel(world.guild, "late-memes")
    await fake.settle()
    assert (await created).id == later.id

    updated = asyncio.ensure_future(client.wait_for("guild_channel_update", timeout=5))
    fake.set_overwrite(later, world.guild.bot_role, allow=Permission.MANAGE_MESSAGES)
    await fake.settle()
    _, after = await updated
    guild = client.get_guild(world.guild.id)
    assert guild is not None and after.permissions_for(guild.me).manage_messages


async def test_rate_limit_is_retried_by_discord_py(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    fake.fail_next("POST", "/channels/*/messages", 429)
    await text_channel(client, world.memes).send("after the limit")
    assert [c.status for c in fake.calls_to("POST", "/channels/*/messages")] == [429, 200]
    assert fake.bot_messages(world.memes)[-1].content == "after the limit"


async def test_injected_403_and_404_surface_as_discord_errors(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    channel = text_channel(client, world.memes)
    fake.fail_next("POST", "/channels/*/messages", 403, MISSING_PERMISSIONS)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013

    posted = await fake.post_message(world.memes, world.alice, "hi")
    fake.fail_next("GET", "/channels/*/messages/*", 404)
    with pytest.raises(discord.NotFound) as missing:
        await channel.fetch_message(posted.id)
    assert missing.value.code == 10008
    assert (await channel.fetch_message(posted.id)).content == "hi"


async def test_a_link_that_unfurls_later_reaches_the_edit_events(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    link = "https://tenor.com/view/cat-dance-123"
    posted = await fake.post_message(world.memes, world.alice, link)
    await next_of(client.heard)

    media = gif()
    await fake.unfurl(posted, [fake.link_embed(link, ("cat.gif", media))])

    before, after = await next_of(client.edits)
    raw = await next_of(client.raw_edits)
    assert before.embeds == [] and raw.message_id == posted.id
    embed = after.embeds[0]
    assert embed.type == "gifv" and embed.provider.name == "Tenor" and embed.thumbnail.url is not None
    async with aiohttp.ClientSession() as session, session.get(embed.thumbnail.url) as response:
        assert await response.read() == media


async def test_reconnects_resume_and_replay_missed_events(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await fake.force_reconnect("reconnect")
    await next_of(client.resumes)
    await fake.post_message(world.memes, world.alice, "after op 7")
    assert (await next_of(client.heard)).content == "after op 7"

    await fake.force_reconnect("close", wait=False)
    missed = await fake.post_message(world.memes, world.alice, "while disconnected")
    assert (await next_of(client.heard)).id == missed.id
    await next_of(client.resumes)
    assert (fake.identify_count, fake.resume_count) == (1, 2)
    assert fake.gateway_urls[-1].startswith("/resume?")  # READY's resume_gateway_url


async def test_an_invalidated_session_identifies_again(
    fake: FakeDiscord, world: World, client: RecordingClient
) -> None:
    await fake.invalidate_session()
    assert (fake.identify_count, fake.resume_count) == (2, 0)
    await client.wait_for("ready", timeout=5)
    await fake.post_message(world.memes, world.alice, "still here")
    assert (await next_of(client.heard)).content == "still here"


async def test_an_auto_sharded_bot_connects_through_gateway_bot(fake: FakeDiscord, world: World) -> None:
    intents = discord.Intents.default()
    bot = commands.AutoShardedBot(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
    async with fake.connected(bot):
        assert bot.shard_count == 1 and bot.get_guild(world.guild.id) is not None
    assert [c.path for c in fake.calls_to("GET", "/gateway/bot")] == ["/gateway/bot"]


async def test_closing_the_client_leaves_nothing_running() -> None:
    async with FakeDiscord() as fake:
        fake.add_guild("another")
        client = RecordingClient()
        async with fake.connected(client):
            assert client.is_ready()
        assert client.is_closed()
        await fake.wait_for(lambda: fake.open_connections == 0)
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


async def test_posting_needs_the_users_permissions(fake: FakeDiscord, world: World) -> None:
    fake.set_overwrite(world.general, world.guild.everyone, deny=Permission.SEND_MESSAGES)
    assert not fake.permissions_for(world.general, world.alice) & Permission.SEND_MESSAGES
    assert fake.permissions_for(world.general, world.mod) & Permission.MANAGE_MESSAGES
    with pytest.raises(PermissionError):
        await fake.post_message(world.general, world.alice, "muted")
