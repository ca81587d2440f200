"""Channel message routes (send, edit, delete, fetch, history, reactions) and the file downloads."""

from __future__ import annotations

from aiohttp import web

from .model import ChannelType, JsonDict, Permission
from .records import ApiError, StoredMessage, invalid_form, unknown_message
from .rest import ApiRequest, Router, channel_of
from .state import DiscordState


class MessageRoutes:
    """What the bot does to channel messages, with Discord's permission checks."""

    def __init__(self, state: DiscordState) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        add = router.add
        add("GET", "/channels/{channel_id}/messages", self.history)
        add("POST", "/channels/{channel_id}/messages", self.send)
        add("POST", "/channels/{channel_id}/messages/bulk-delete", self.bulk_delete)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self.fetch)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete)
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me"
        add("PUT", reaction, self.react)
        add("DELETE", reaction, self.unreact)

    def _message(self, request: ApiRequest) -> StoredMessage:
        stored = self.state.message(channel_of(self.state, request), request.params["message_id"])
        if stored is None:
            raise unknown_message()
        return stored

    async def send(self, request: ApiRequest) -> JsonDict:
        channel = channel_of(self.state, request)
        body = request.json or {}
        if (
            not any(body.get(k) for k in ("content", "embeds", "components", "sticker_ids", "poll"))
            and not request.uploads
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if channel.type is not ChannelType.DM:
            needed = Permission.SEND_MESSAGES
            if request.uploads:
                needed |= Permission.ATTACH_FILES
            if body.get("message_reference"):
                needed |= Permission.READ_MESSAGE_HISTORY
            self.state.require(channel, self.state.bot_user, needed)
        stored = self.state.create_message(channel, self.state.bot_user, body, request.uploads)
        return stored.payload

    async def fetch(self, request: ApiRequest) -> JsonDict:
        stored = self._message(request)
        self.state.require(stored.channel, self.state.bot_user, Permission.READ_MESSAGE_HISTORY)
        return stored.payload

    async def history(self, request: ApiRequest) -> list[JsonDict]:
        channel = channel_of(self.state, request)
        self.state.require(channel, self.state.bot_user, Permission.READ_MESSAGE_HISTORY)
        limit = int(request.query.get("limit", 50))
        found = sorted(
            (
                m
                for m in self.state.messages.values()
                if m.channel is channel and not m.deleted and not m.ephemeral
            ),
            key=lambda m: m.id,
            reverse=True,
        )
        if "before" in request.query:
            found = [m for m in found if m.id < int(request.query["before"])]
        if "after" in request.query:
            found = [m for m in found if m.id > int(request.query["after"])][::-1]
        return [m.payload for m in found[:limit]]

    async def edit(self, request: ApiRequest) -> JsonDict:
        stored = self._message(request)
        body = request.json or {}
        if stored.author is not self.state.bot_user and set(body) - {"flags"}:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        return self.state.edit_message(stored, body, request.uploads).payload

    async def delete(self, request: ApiRequest) -> None:
        stored = self._message(request)
        if stored.author is not self.state.bot_user and stored.channel.type is not ChannelType.DM:
            self.state.require(stored.channel, self.state.bot_user, Permission.MANAGE_MESSAGES)
        elif stored.author is not self.state.bot_user:
            raise ApiError(403, 50003, "Cannot execute action on a DM channel")
        self.state.delete_message(stored)

    async def bulk_delete(self, request: ApiRequest) -> None:
        channel = channel_of(self.state, request)
        self.state.require(channel, self.state.bot_user, Permission.MANAGE_MESSAGES)
        ids = (request.json or {}).get("messages", [])
        if not 2 <= len(ids) <= 100:
            raise invalid_form("messages: must hold 2 to 100 ids")
        for message_id in ids:
            stored = self.state.message(channel, message_id)
            if stored is not None:
                self.state.delete_message(stored)

    async def react(self, request: ApiRequest) -> None:
        stored = self._message(request)
        self.state.require(stored.channel, self.state.bot_user, Permission.ADD_REACTIONS)
        emoji = request.params["emoji"]
        reactions = stored.payload.setdefault("reactions", [])
        if not any(r["emoji"]["name"] == emoji and r["me"] for r in reactions):
            reactions.append({"emoji": {"id": None, "name": emoji}, "count": 1, "me": True})

    async def unreact(self, request: ApiRequest) -> None:
        stored = self._message(request)
        emoji = request.params["emoji"]
        reactions = stored.payload.get("reactions", [])
        stored.payload["reactions"] = [r for r in reactions if not (r["emoji"]["name"] == emoji and r["me"])]


async def serve_file(state: DiscordState, request: web.Request) -> web.Response:
    """Attachment and media downloads; an attachment 404s once its message is deleted, like the CDN."""
    hosted = state.hosted.get(request.path)
    if hosted is None or not hosted.alive:
        return web.Response(status=404, text="404: Not Found")
    name = hosted.upload.filename
    if state.broken_downloads.get(name, 0) > 0:
        state.broken_downloads[name] -= 1
        assert request.transport is not None
        request.transport.abort()  # a connection reset half-way, as flaky networks do
        return web.Response(status=500)
    return web.Response(body=hosted.upload.data, content_type=hosted.upload.content_type)
