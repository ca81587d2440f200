"""The way back to Discord: a channel (ChannelChat) or an interaction's answers (InteractionChat)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Iterable, Sequence

import discord
from discord.utils import MISSING

from bot.errors import ChatUnavailable, MessageGone, PermissionMissing, UserError
from bot.events import Button, SentMessage

log = logging.getLogger(__name__)

PLATFORM = "discord"
MAX_TEXT = 2000
MAX_BUTTONS = 25  # five rows of five
NO_MANAGE_MESSAGES = "I need the Manage Messages permission in this channel."
NO_SEND_MESSAGES = "I need the View Channel and Send Messages permissions in this channel."
# Given with every message rather than once to the client: a verdict never pings anyone, whatever
# connection state (a harness's, a reconnect's) the client has at the time.
NO_MENTIONS = discord.AllowedMentions.none()


def feedback_view(buttons: Sequence[Button]) -> discord.ui.View | None:
    """The buttons as components whose custom_id is the core's payload."""
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:MAX_BUTTONS]:
        view.add_item(
            discord.ui.Button(
                label=button.label[:80], custom_id=button.payload, style=discord.ButtonStyle.secondary
            )
        )
    # A stopped view is only rendered, never stored in discord.py's view store: presses reach the
    # adapter's on_interaction instead, so they work after a restart and no view piles up per verdict.
    view.stop()
    return view


class ChannelChat:
    """A text channel, thread or DM. chat_id is the channel id: memes-only is set per channel."""

    platform = PLATFORM

    def __init__(
        self,
        client: discord.Client,
        *,
        channel_id: int,
        guild_id: int | None,
        members: Iterable[discord.Member] = (),
    ) -> None:
        self.chat_id = str(channel_id)
        self._client = client
        self._channel_id = channel_id
        self._guild_id = guild_id
        self._members = {m.id: m for m in members}  # people already known from the event

    def _channel(self) -> discord.abc.Messageable:
        """The cached channel where the client has it (it knows its permissions), else a partial one."""
        cached = self._client.get_channel(self._channel_id)
        if isinstance(cached, discord.abc.Messageable):
            return cached
        return self._client.get_partial_messageable(self._channel_id, guild_id=self._guild_id)

    async def send(
        self, text: str, *, reply_to: str | None = None, buttons: Sequence[Button] = (), private: bool = False
    ) -> SentMessage:
        # A channel has no only-you messages; `private` answers go to the channel like the rest.
        return await self._post(_fit(text), reply_to=reply_to, view=feedback_view(buttons))

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        file = discord.File(io.BytesIO(data), filename)
        return await self._post(_fit(caption), reply_to=reply_to, file=file)

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        # Discord shows an attached PNG or JPEG inline, so a picture is just a file here.
        file = discord.File(io.BytesIO(data), filename)
        return await self._post(_fit(caption), reply_to=reply_to, file=file, view=feedback_view(buttons))

    async def tell_user(self, user_id: str, text: str) -> bool:
        """A direct message; refused when the person does not take DMs from server members."""
        try:
            user = self._client.get_user(int(user_id)) or await self._client.fetch_user(int(user_id))
            await user.send(_fit(text), allowed_mentions=NO_MENTIONS)
        except (discord.HTTPException, ValueError) as exc:
            log.info("could not send Discord user %s a direct message: %s", user_id, exc)
            return False
        return True

    async def open_chat(self, chat_id: str) -> ChannelChat:
        if chat_id == self.chat_id:
            return self
        return await open_channel(self._client, chat_id)

    async def _post(
        self,
        content: str,
        *,
        reply_to: str | None,
        view: discord.ui.View | None = None,
        file: discord.File | None = None,
    ) -> SentMessage:
        channel = self._channel()
        try:
            if reply_to is None:
                message = await channel.send(
                    content, view=view or MISSING, file=file or MISSING, allowed_mentions=NO_MENTIONS
                )
            else:
                reference = discord.MessageReference(
                    message_id=int(reply_to), channel_id=self._channel_id, fail_if_not_exists=False
                )
                message = await channel.send(
                    content,
                    reference=reference,
                    view=view or MISSING,
                    file=file or MISSING,
                    allowed_mentions=NO_MENTIONS,
                )
        except discord.Forbidden as exc:
            if reply_to is None:
                log.warning("Discord channel %s refused a message: %s", self.chat_id, exc.text)
                raise ChatUnavailable(NO_SEND_MESSAGES) from exc
            # Replying needs Read Message History too; a plain message still gets the answer across.
            log.warning("Discord channel %s refused a reply; trying a plain message", self.chat_id)
            if file is not None:
                file.reset()
            return await self._post(content, reply_to=None, view=view, file=file)
        except discord.NotFound as exc:  # the channel was deleted meanwhile
            raise ChatUnavailable(f"channel {self.chat_id} is gone") from exc
        except discord.HTTPException as exc:
            raise _upload_error(exc) from None
        return SentMessage(str(message.id))

    async def delete(self, message_id: str) -> None:
        try:
            channel = self._client.get_partial_messageable(self._channel_id, guild_id=self._guild_id)
            await channel.get_partial_message(int(message_id)).delete()
        except discord.NotFound:
            raise MessageGone(message_id) from None
        except discord.Forbidden:
            if self._guild_id is None:
                raise PermissionMissing(
                    "I can't delete other people's messages in a direct message."
                ) from None
            raise PermissionMissing(NO_MANAGE_MESSAGES) from None

    async def is_moderator(self, user_id: str) -> bool:
        """Manage Messages in this channel; in a DM the other person owns the chat."""
        if self._guild_id is None:
            return True
        guild = self._client.get_guild(self._guild_id)
        channel = None if guild is None else guild.get_channel_or_thread(self._channel_id)
        if guild is None or channel is None:
            return False
        member = self._members.get(int(user_id)) or guild.get_member(int(user_id))
        if member is None:
            try:
                member = await guild.fetch_member(int(user_id))
            except discord.HTTPException:
                return False
        return channel.permissions_for(member).manage_messages


async def open_channel(client: discord.Client, chat_id: str) -> ChannelChat:
    """The ChannelChat of a channel by id, its guild looked up (a DM has none)."""
    try:
        channel = client.get_channel(int(chat_id)) or await client.fetch_channel(int(chat_id))
    except (discord.HTTPException, ValueError) as exc:
        raise ChatUnavailable(f"channel {chat_id} is out of my reach") from exc
    guild = getattr(channel, "guild", None)
    return ChannelChat(client, channel_id=int(chat_id), guild_id=None if guild is None else guild.id)


class InteractionChat:
    """Answers to one interaction, deferred at once because a verdict can take longer than Discord's 3 s.

    The first answer fills in the deferred ("thinking") response; later ones are follow-ups.
    Moderator commands and button acknowledgements are ephemeral throughout.
    """

    platform = PLATFORM

    def __init__(self, interaction: discord.Interaction, channel: ChannelChat, *, ephemeral: bool) -> None:
        self.chat_id = channel.chat_id
        self._interaction = interaction
        self._channel = channel
        self._ephemeral = ephemeral
        self._lock = asyncio.Lock()  # the deferred response is filled exactly once
        self._deferred = False
        self._answered = False

    async def defer(self) -> bool:
        """Acknowledge the interaction; False when Discord no longer takes it (past its 3 s)."""
        try:
            await self._interaction.response.defer(ephemeral=self._ephemeral, thinking=True)
        except discord.HTTPException as exc:
            log.warning("could not acknowledge a Discord interaction in time: %s", exc)
            return False
        self._deferred = True
        return True

    async def finish(self) -> None:
        """Remove a "thinking…" placeholder that nothing answered, so it does not hang there."""
        if self._deferred and not self._answered:
            with contextlib.suppress(discord.HTTPException):
                await self._interaction.delete_original_response()

    async def send(
        self, text: str, *, reply_to: str | None = None, buttons: Sequence[Button] = (), private: bool = False
    ) -> SentMessage:
        return await self._answer(_fit(text), private=private, view=feedback_view(buttons))

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        return await self._answer(_fit(caption), private=False, file=discord.File(io.BytesIO(data), filename))

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        file = discord.File(io.BytesIO(data), filename)
        return await self._answer(_fit(caption), private=False, file=file, view=feedback_view(buttons))

    async def _answer(
        self,
        content: str,
        *,
        private: bool,
        view: discord.ui.View | None = None,
        file: discord.File | None = None,
    ) -> SentMessage:
        ephemeral = private or self._ephemeral
        async with self._lock:
            first, self._answered = not self._answered, True
            try:
                if first and ephemeral == self._ephemeral:
                    message = await self._interaction.edit_original_response(
                        content=content,
                        view=view or MISSING,
                        attachments=[file] if file else MISSING,
                        allowed_mentions=NO_MENTIONS,
                    )
                    return SentMessage(str(message.id))
                if first:  # the placeholder is public, but this answer is for the user only
                    with contextlib.suppress(discord.HTTPException):
                        await self._interaction.delete_original_response()
                sent = await self._interaction.followup.send(
                    content,
                    ephemeral=ephemeral,
                    wait=True,
                    view=view or MISSING,
                    file=file or MISSING,
                    allowed_mentions=NO_MENTIONS,
                )
            except discord.HTTPException as exc:
                raise _upload_error(exc) from None
            return SentMessage(str(sent.id))

    async def delete(self, message_id: str) -> None:
        await self._channel.delete(message_id)

    async def tell_user(self, user_id: str, text: str) -> bool:
        return await self._channel.tell_user(user_id, text)

    async def open_chat(self, chat_id: str) -> ChannelChat:
        return await self._channel.open_chat(chat_id)

    async def is_moderator(self, user_id: str) -> bool:
        if int(user_id) != self._interaction.user.id:
            return await self._channel.is_moderator(user_id)
        if self._interaction.guild_id is None:
            return True
        # Discord resolves the invoker's permissions in this channel (roles and overwrites) for us.
        return self._interaction.permissions.manage_messages


def _fit(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _upload_error(exc: discord.HTTPException) -> Exception:
    if exc.status == 413:
        return UserError("That file is too large to upload here. Use `memebot export` on the bot's machine.")
    return exc
