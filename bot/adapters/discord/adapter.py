"""DiscordAdapter: discord.py v2 in the shared event loop, translating Discord events for the core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot import replies
from bot.adapters.base import EventHandler
from bot.adapters.discord.chat import ChannelChat, InteractionChat
from bot.adapters.discord.commands import PRIVATE_COMMANDS, TargetFinder, register_commands, sync_commands
from bot.adapters.discord.media import MB, MediaReader, SeenImages
from bot.adapters.discord.targets import Targets
from bot.config import DiscordConfig
from bot.errors import ConfigError, StartupError, UserError
from bot.events import ButtonPressed, CommandIssued, Event, ImagePosted, Sender

log = logging.getLogger(__name__)
# memebot never joins voice: without this, every start warns that PyNaCl and davey are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False
STARTUP_FIRST_DELAY_S, STARTUP_MAX_DELAY_S = 1.0, 15.0
NETWORK_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)

STOP_GRACE_S = 10.0  # how long stop() lets in-flight events finish before disconnecting
USER_MESSAGES = (discord.MessageType.default, discord.MessageType.reply)
BAD_TOKEN = (
    "[discord] token was rejected by Discord (401 Unauthorized): copy it again from the developer "
    "portal (your application → Bot → Reset Token) into MEMEBOT_DISCORD_TOKEN or [discord] token"
)
NO_INTENT = (
    "Discord refused the Message Content intent: enable it in the developer portal (your "
    "application → Bot → Privileged Gateway Intents → Message Content Intent), then start again"
)
CANNOT_DELETE_HINT = (
    "Heads-up: I don't have the Manage Messages permission in this channel, so I can't remove "
    "non-memes until someone grants it."
)


def _new_client(config: DiscordConfig, guild_ready_timeout: float) -> discord.Client:
    options: dict[str, Any] = {
        "intents": intents(),
        "guild_ready_timeout": guild_ready_timeout,  # on_ready waits this long for the guilds
        "allowed_mentions": discord.AllowedMentions.none(),  # and each message says so again
    }
    if config.shard_count > 0:
        return discord.AutoShardedClient(shard_count=config.shard_count, **options)
    return discord.Client(**options)


def intents() -> discord.Intents:
    wanted = discord.Intents.default()  # guilds, guild and DM messages; no privileged member lists
    wanted.message_content = True  # privileged: without it attachments and embeds arrive empty
    return wanted


class DiscordAdapter:
    """A bot account on Discord; `start` logs in, registers the commands and connects the gateway."""

    name = "discord"

    def __init__(
        self,
        config: DiscordConfig,
        handler: EventHandler,
        *,
        max_file_bytes: int,
        guild_ready_timeout: float = 2.0,
        ready_timeout: float = 60.0,
        client: discord.Client | None = None,
    ) -> None:
        """`client`: the discord.Client to drive (a test harness's, or one set up by the caller);
        by default one of our own with the intents memebot needs. Its event handlers are replaced."""
        if config.token is None or not config.token.reveal():
            raise ConfigError("[discord] token is not set")
        self._config = config
        self._handler = handler
        self._ready_timeout = ready_timeout
        self._media = MediaReader(max_bytes=min(max_file_bytes, int(config.max_file_mb * MB)))
        self._seen = SeenImages()
        self.client = client or _new_client(config, guild_ready_timeout)
        for listener in (self.on_message, self.on_raw_message_edit, self.on_interaction, self.on_error):
            self.client.event(listener)
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(self.client)
        self.tree.error(self.on_tree_error)
        self.targets = Targets(self.client, self._media)
        register_commands(self.tree, self)
        self._connection: asyncio.Task[None] | None = None
        self._connecting = False
        self._in_flight: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """open(), then connect(): the whole start-up in one call, as discord.py's Client.start."""
        await self.open()
        try:
            await self.connect()
        except BaseException:  # cancelled or failed half-way: leave no session or socket behind
            await self._close()
            raise

    async def open(self) -> None:
        """What the adapter needs before any event can be handled (its download session); after this,
        events dispatched by any connection (ours, or a harness's such as dpytest) are handled."""
        await self._media.open()

    async def connect(self) -> None:
        """Log in (a bad token fails here, as a ConfigError), sync commands, connect, wait for READY."""
        self._connecting = True  # from here on, stop() also closes the client: we opened its session
        await self._login()
        await sync_commands(self.tree, self._config.guild_ids)
        self._connection = asyncio.create_task(self.client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self.client.wait_until_ready(), name="discord-ready")
        try:
            await asyncio.wait(
                {ready, self._connection}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if self._connection.done():
            error = _explain(None if self._connection.cancelled() else self._connection.exception())
            if isinstance(error, NETWORK_ERRORS):
                raise StartupError(
                    f"Discord: could not connect to the gateway ({_reason(error)}); check the network"
                )
            raise error
        if self.client.is_ready():
            log.info("connected to Discord as %s in %d guilds", self.client.user, len(self.client.guilds))
        else:
            log.warning("not connected to Discord after %.0f s; still trying", self._ready_timeout)

    async def _login(self) -> None:
        """client.start(token) in two halves, to fail clearly here: a refused token is a ConfigError;
        network failures are retried with backoff for [discord] startup_retry_s, then StartupError."""
        token = self._config.token.reveal() if self._config.token else ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.startup_retry_s
        delay = STARTUP_FIRST_DELAY_S
        while True:
            try:
                await self.client.login(token)
                return
            except discord.LoginFailure:
                raise ConfigError(BAD_TOKEN) from None
            except NETWORK_ERRORS as exc:
                if loop.time() >= deadline:
                    raise StartupError(
                        f"Discord: could not reach Discord ({_reason(exc)}); check the network"
                    ) from None
                wait = min(delay, deadline - loop.time())
                log.warning("Discord: could not reach Discord (%s); retrying in %.1f s", _reason(exc), wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, STARTUP_MAX_DELAY_S)
            except discord.HTTPException as exc:  # Discord answered, with an error retrying won't fix
                raise StartupError(f"Discord: logging in failed ({exc.status} {exc.text[:120]})") from None

    async def stop(self) -> None:
        """Let in-flight events finish (within STOP_GRACE_S), then disconnect."""
        self._stopping = True
        pending = self._in_flight - {asyncio.current_task()}
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE_S)
        await self._close()

    async def wait_closed(self) -> None:
        """Return when the connection ends: after stop(), or on its own (token revoked, intents...)."""
        if self._connection is None:
            return
        await asyncio.wait({self._connection})  # not awaited directly: cancelling us must not cancel it
        if self._stopping or self._connection.cancelled():
            return
        error = self._connection.exception()
        if error is None:
            log.warning("the Discord connection closed")
        else:
            log.error("the Discord connection ended: %s", _explain(error))

    async def _close(self) -> None:
        self._stopping = True
        if self._connecting:  # a harness that drives the client itself closes it itself
            await self.client.close()
        if self._connection is not None:
            await asyncio.wait({self._connection}, timeout=STOP_GRACE_S)
            if not self._connection.done():
                self._connection.cancel()
        await self._media.aclose()

    # ---- messages ----------------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if self._ignored(message):
            return
        found = self._media.images_in(message)
        # Remembered before any await: an unfurl (MESSAGE_UPDATE) right behind must see this.
        self._seen.remember(message.id, frozenset(f.key for f in found))
        if found:
            refs = tuple(f.ref for f in found)
            await self._deliver(
                ImagePosted(self._chat(message), _sender(message.author), str(message.id), refs)
            )

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Edits, and link embeds (Tenor/Giphy GIFs, image links) that Discord adds after posting."""
        message = payload.message
        if self._ignored(message):
            return
        before = self._seen.get(message.id)
        if before is None and payload.cached_message is not None:
            before = frozenset(f.key for f in self._media.images_in(payload.cached_message))
        if before is None:
            return  # posted before we started: we can't tell what the edit added
        found = self._media.images_in(message)
        self._seen.remember(message.id, before | {f.key for f in found})
        added = tuple(f.ref for f in found if f.key not in before)
        if added:
            edited = message.edited_at is not None  # an unfurl is Discord's doing, not an edit
            event = ImagePosted(self._chat(message), _sender(message.author), str(message.id), added, edited)
            await self._deliver(event)

    def _ignored(self, message: discord.Message) -> bool:
        return self._stopping or message.author.bot or message.type not in USER_MESSAGES

    def _chat(self, message: discord.Message) -> ChannelChat:
        members = [message.author] if isinstance(message.author, discord.Member) else []
        guild_id = message.guild.id if message.guild is not None else None
        return ChannelChat(self.client, channel_id=message.channel.id, guild_id=guild_id, members=members)

    # ---- interactions ------------------------------------------------------------------------

    async def run(
        self,
        interaction: discord.Interaction,
        name: str,
        args: Sequence[str] = (),
        *,
        target: TargetFinder | None = None,
    ) -> None:
        """One slash command or context menu: defer, find the target, let the core answer."""
        chat = self._interaction_chat(interaction, ephemeral=name in PRIVATE_COMMANDS)
        if self._stopping or not await chat.defer():
            return
        try:
            reply_to = None if target is None else await target()
            event = CommandIssued(chat, _sender(interaction.user), name, tuple(args), None, reply_to)
            await self._deliver(event)
            if name == "memesonly" and tuple(args) == ("on",) and _cannot_delete(interaction):
                await chat.send(CANNOT_DELETE_HINT, private=True)
        except UserError as exc:
            await chat.send(str(exc), private=True)
        except Exception:
            log.exception("Discord command /%s failed in channel %s", name, interaction.channel_id)
            await chat.send(replies.APOLOGY, private=True)
        await chat.finish()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Button presses: any component's custom_id is a core payload, so old buttons work too."""
        if interaction.type is not discord.InteractionType.component or self._stopping:
            return
        custom_id = str(dict(interaction.data or {}).get("custom_id") or "")
        chat = self._interaction_chat(interaction, ephemeral=True)
        if not custom_id or not await chat.defer():
            return

        async def answer(text: str) -> None:
            await chat.send(text, private=True)

        message_id = str(interaction.message.id) if interaction.message is not None else None
        await self._deliver(ButtonPressed(chat, _sender(interaction.user), custom_id, message_id, answer))
        await chat.finish()

    def _interaction_chat(self, interaction: discord.Interaction, *, ephemeral: bool) -> InteractionChat:
        channel = ChannelChat(
            self.client, channel_id=interaction.channel_id or 0, guild_id=interaction.guild_id
        )
        return InteractionChat(interaction, channel, ephemeral=ephemeral)

    # ---- delivery and last resorts -----------------------------------------------------------

    async def _deliver(self, event: Event) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await self._handler(event)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def on_error(self, event_method: str, /, *args: Any, **kwargs: Any) -> None:
        log.exception("unhandled error in Discord event %s", event_method)

    async def on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Errors before a command ran (a stale command, an unconvertible option) or outside `run`."""
        if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
            text = "That command just changed. Please try again in a minute."
            log.warning("Discord command out of date: %s", error)
        else:
            text = replies.APOLOGY
            log.error("Discord command failed in channel %s", interaction.channel_id, exc_info=error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True)
            else:
                await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user about a failed Discord command")


def _cannot_delete(interaction: discord.Interaction) -> bool:
    """A moderator turned memes-only on where the bot itself lacks Manage Messages."""
    return (
        interaction.guild_id is not None
        and interaction.permissions.manage_messages
        and not interaction.app_permissions.manage_messages
    )


def _sender(user: discord.User | discord.Member) -> Sender:
    return Sender(user_id=str(user.id), display_name=user.display_name)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:200] if str(error) else type(error).__name__


def _explain(error: BaseException | None) -> Exception:
    """Why the gateway connection ended, as the error to show (a ConfigError where the fix is ours)."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return ConfigError(NO_INTENT)
    if isinstance(error, discord.LoginFailure) or (
        isinstance(error, discord.ConnectionClosed) and error.code == 4004
    ):
        return ConfigError(BAD_TOKEN)
    if isinstance(error, Exception):
        return error
    return ConfigError("the Discord connection closed before it was ready")
