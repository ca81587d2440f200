"""Which message a command acts on: an uploaded file, a context-menu target, a link, my latest verdict."""

from __future__ import annotations

import re

import discord

from bot.adapters.discord.media import MediaReader
from bot.errors import UserError
from bot.events import ImageRef, RepliedMessage

NO_IMAGE = "That message has no image I can check (attachments, image links, GIFs and stickers count)."
HISTORY_DEPTH = 50  # how far back /correct looks for my latest verdict
_LINK = re.compile(r"(?:https?://)?(?:\w+\.)?discord(?:app)?\.com/channels/(?:\d+|@me)/(\d+)/(\d+)/?")


class Targets:
    """Builds the RepliedMessage a command refers to; raises UserError with what to do otherwise."""

    def __init__(self, client: discord.Client, media: MediaReader) -> None:
        self._client = client
        self._media = media

    def upload(self, interaction: discord.Interaction, attachment: discord.Attachment) -> RepliedMessage:
        """A file given to /classify: no message holds it, so the interaction id stands in for one."""
        return RepliedMessage(str(interaction.id), (self._media.attachment_ref(attachment),))

    def message(self, message: discord.Message, *, need_image: bool) -> RepliedMessage:
        images = tuple(found.ref for found in self._media.images_in(message))
        if need_image and not images:
            raise UserError(NO_IMAGE)
        return RepliedMessage(str(message.id), images)

    async def link_or_latest(self, interaction: discord.Interaction, link: str | None) -> RepliedMessage:
        """The message a /correct names by link or id, or else my newest verdict in this channel."""
        channel_id = interaction.channel_id
        if channel_id is None:
            raise UserError("I can't tell which channel this is.")
        if link:
            message = await self._fetch(channel_id, link)
            return self.message(message, need_image=False)
        return await self._latest_verdict(channel_id)

    async def _fetch(self, channel_id: int, link: str) -> discord.Message:
        text = link.strip().strip("<>")
        found = _LINK.fullmatch(text)
        if found is not None:
            if int(found[1]) != channel_id:
                raise UserError("That message is in another channel: use /correct there.")
            message_id = int(found[2])
        elif text.isdigit():
            message_id = int(text)
        else:
            raise UserError("Give a message link (Copy Message Link) or a message ID.")
        try:
            return await self._client.get_partial_messageable(channel_id).fetch_message(message_id)
        except discord.NotFound:
            raise UserError("I can't find that message in this channel.") from None
        except discord.Forbidden:
            raise UserError("I need the Read Message History permission in this channel.") from None

    async def _latest_verdict(self, channel_id: int) -> RepliedMessage:
        me = self._client.user
        channel = self._client.get_partial_messageable(channel_id)
        try:
            async for message in channel.history(limit=HISTORY_DEPTH):
                if me is not None and message.author.id == me.id and message.components:
                    return RepliedMessage(str(message.id), self._replied_images(message))
        except discord.Forbidden:
            raise UserError("I need the Read Message History permission in this channel.") from None
        raise UserError(
            "I found no verdict of mine here to correct. Use the buttons under a verdict, "
            "or give /correct a message link."
        )

    def _replied_images(self, verdict: discord.Message) -> tuple[ImageRef, ...]:
        """The images of the message my verdict answered, so an album is recognised as one."""
        original = verdict.reference.resolved if verdict.reference is not None else None
        if isinstance(original, discord.Message):
            return tuple(found.ref for found in self._media.images_in(original))
        return ()
