"""FakeDiscord: the test-side face of the fake (build a guild, act as users, inspect what the bot did)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import discord
from aiohttp import web

from .client import connected, point_discord_py_at
from .gateway import Gateway
from .interactions import Interactions
from .messages import MessageRoutes, serve_file
from .model import (
    EVERYONE_DEFAULT,
    Channel,
    ChannelType,
    FileSpec,
    Guild,
    JsonDict,
    Member,
    Permission,
    PermissionOverwrite,
    Role,
    User,
    as_upload,
    image_size,
)
from .records import Call, Fault, HostedFile, InteractionRecord, InteractionReply, StoredMessage
from .rest import API_PREFIX, GeneralRoutes, RestApi
from .state import FORWARD, GUILD_MEMBERS, GUILDS, PRIVILEGED_INTENTS, DiscordState

T = TypeVar("T")
_PROVIDERS = {"Tenor": "https://tenor.co", "Giphy": "https://giphy.com/"}


class FakeDiscord:
    """A Discord gateway + REST server on 127.0.0.1 that the real discord.py client talks to.

    `async with FakeDiscord() as fake:` starts it and points discord.py at it (Route.BASE, the
    default gateway, the CDN base) until the block ends.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "memebot",
        heartbeat_interval: float = 1.0,
        interaction_deadline: float | None = 3.0,
        enforce_permissions: bool = True,
        privileged_intents: int = PRIVILEGED_INTENTS,
        upload_limit: int = 10 * 1024 * 1024,
        redirect_discord_py: bool = True,
    ) -> None:
        self._state = DiscordState(
            token=token, bot_name=bot_name, enforce_permissions=enforce_permissions, upload_limit=upload_limit
        )
        self._condition = asyncio.Condition()
        self._gateway = Gateway(
            self._state,
            heartbeat_interval=heartbeat_interval,
            privileged_intents=privileged_intents,
            changed=self._changed,
        )
        self._state.emit = self._gateway.dispatch
        self._rest = RestApi(self._state, self._changed)
        self._interactions = Interactions(self._state, deadline=interaction_deadline)
        GeneralRoutes(self._rest).register(self._rest.router)
        MessageRoutes(self._state).register(self._rest.router)
        self._interactions.register(self._rest.router)
        self._redirect = redirect_discord_py
        self._restore: Callable[[], None] | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_get("/resume", self._gateway.handle)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest.handle)
        app.router.add_get("/{tail:.*}", self._serve_file)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        self._state.base_url = self.base_url
        self._rest.gateway_url = f"ws://127.0.0.1:{port}/gateway"
        self._gateway.resume_url = f"ws://127.0.0.1:{port}/resume"
        if self._redirect:
            self._restore = point_discord_py_at(
                api_url=self.api_url, gateway_url=self.gateway_url, cdn_url=self.base_url + "/cdn"
            )

    async def _serve_file(self, request: web.Request) -> web.Response:
        return await serve_file(self._state, request)

    async def stop(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None
        await self._gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def connected(
        self, client: discord.Client, *, ready_within: float = 10.0
    ) -> AbstractAsyncContextManager[None]:
        """`async with fake.connected(client):` logs in, connects, waits for on_ready; closes on exit."""
        return connected(client, self.token, ready_within=ready_within)

    # -- who the bot is --------------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self._state.token

    @property
    def bot_user(self) -> User:
        return self._state.bot_user

    @property
    def application_id(self) -> int:
        return self._state.application_id

    @property
    def interaction_deadline(self) -> float | None:
        """Seconds the bot has to acknowledge an interaction (Discord: 3); None for no limit."""
        return self._interactions.deadline

    @interaction_deadline.setter
    def interaction_deadline(self, seconds: float | None) -> None:
        self._interactions.deadline = seconds

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return self._rest.gateway_url

    # -- building the world ----------------------------------------------------------------------

    def add_user(self, name: str, *, bot: bool = False) -> User:
        user = User(self._state.ids.next(), name, bot=bot)
        self._state.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Meme Guild",
        *,
        owner: User | None = None,
        bot_permissions: int = 0,
        everyone_permissions: int = EVERYONE_DEFAULT,
    ) -> Guild:
        """A guild the bot is in, with @everyone, the bot's own role (`bot_permissions`) and an owner."""
        owner = owner or self.add_user(f"{name} owner")
        guild = Guild(self._state.ids.next(), name, owner)
        guild.roles.append(Role(guild.id, guild.id, "@everyone", everyone_permissions))
        bot = self._state.bot_user
        guild.roles.append(
            Role(self._state.ids.next(), guild.id, bot.name, bot_permissions, 1, bot_id=bot.id)
        )
        guild.members[owner.id] = Member(owner)
        guild.members[bot.id] = Member(bot, [guild.bot_role])
        self._state.guilds.append(guild)
        self._gateway.announce_guild(guild)
        return guild

    def add_role(self, guild: Guild, name: str, *, permissions: int = 0) -> Role:
        role = Role(self._state.ids.next(), guild.id, name, permissions, len(guild.roles))
        guild.roles.append(role)
        self._state.emit("GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.payload()}, GUILDS)
        return role

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        overwrites: Iterable[PermissionOverwrite] = (),
        topic: str | None = None,
        nsfw: bool = False,
    ) -> Channel:
        channel = Channel(
            self._state.ids.next(), name, guild, overwrites=list(overwrites), topic=topic, nsfw=nsfw
        )
        channel.position = len(guild.channels)
        guild.channels.append(channel)
        self._state.channels[channel.id] = channel
        self._state.emit("CHANNEL_CREATE", channel.payload(), GUILDS)
        return channel

    def add_member(
        self, guild: Guild, user: User | str, *, roles: Iterable[Role] = (), nick: str | None = None
    ) -> User:
        """Make `user` (or a new user of that name) a member; an existing member gets these roles."""
        if isinstance(user, str):
            user = self.add_user(user)
        existing = guild.member(user)
        member = Member(user, list(roles), nick)
        if existing is not None:
            member.joined_at = existing.joined_at
        guild.members[user.id] = member
        event = "GUILD_MEMBER_UPDATE" if existing else "GUILD_MEMBER_ADD"
        self._state.emit(event, {**member.payload(), "guild_id": str(guild.id)}, GUILD_MEMBERS)
        return user

    def set_overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        """Replace the channel's overwrite for `target` (both 0 removes it)."""
        channel.overwrites = [o for o in channel.overwrites if o.target is not target]
        if allow or deny:
            channel.overwrites.append(PermissionOverwrite(target, allow, deny))
        self._state.emit("CHANNEL_UPDATE", channel.payload(), GUILDS)

    def set_role_permissions(self, role: Role, permissions: int) -> None:
        role.permissions = permissions
        self._state.emit(
            "GUILD_ROLE_UPDATE", {"guild_id": str(role.guild_id), "role": role.payload()}, GUILDS
        )

    def dm_channel(self, user: User) -> Channel:
        return self._state.dm_channel(user)

    def permissions_for(self, channel: Channel, user: User) -> Permission:
        return Permission(self._state.permissions(channel, user))

    def host_file(self, filename: str, data: bytes, content_type: str | None = None) -> str:
        """Serve bytes from the fake (like an image on an external site) and give the URL."""
        spec: FileSpec = (filename, data) if content_type is None else (filename, data, content_type)
        return self._state.host(as_upload(spec), "external")

    def sticker(self, name: str, image: bytes, *, format_type: int = 1) -> JsonDict:
        """A sticker item for `post_message(sticker_items=[...])`, its image served where discord.py
        looks (the CDN base). Format 4 (GIF) stickers point at media.discordapp.net, not here."""
        sticker_id = self._state.ids.next()
        extension = {3: "json", 4: "gif"}.get(format_type, "png")
        path = f"/cdn/stickers/{sticker_id}.{extension}"
        self._state.hosted[path] = HostedFile(as_upload((f"{sticker_id}.{extension}", image)))
        return {"id": str(sticker_id), "name": name, "format_type": format_type}

    def link_embed(
        self, page_url: str, media: FileSpec, *, kind: str = "gifv", provider: str = "Tenor"
    ) -> JsonDict:
        """The embed Discord unfurls for a Tenor/Giphy link (kind "gifv") or an image link ("image").

        The media is hosted by the fake, so thumbnail/video URLs are downloadable.
        """
        upload = as_upload(media)
        url = self._state.host(upload, "external")
        width, height = image_size(upload) or (498, 280)
        media_ref = {"url": url, "proxy_url": url, "width": width, "height": height}
        embed: JsonDict = {"type": kind, "url": page_url, "thumbnail": dict(media_ref)}
        if kind == "gifv":
            embed["provider"] = {"name": provider, "url": _PROVIDERS.get(provider, page_url)}
            embed["video"] = dict(media_ref)
        return embed

    # -- users acting ----------------------------------------------------------------------------

    async def post_message(
        self,
        channel: Channel,
        author: User,
        content: str = "",
        *,
        attachments: Iterable[FileSpec] = (),
        embeds: Iterable[JsonDict] = (),
        sticker_items: Iterable[JsonDict] = (),
        reference: StoredMessage | None = None,
    ) -> StoredMessage:
        """`author` posts in `channel`; the bot gets MESSAGE_CREATE. Files are (name, bytes[, type])."""
        uploads = {i: as_upload(spec) for i, spec in enumerate(attachments)}
        self._check_can_post(channel, author, bool(uploads))
        data: JsonDict = {"content": content, "embeds": list(embeds), "sticker_items": list(sticker_items)}
        if reference is not None:
            data["message_reference"] = {"message_id": str(reference.id)}
        stored = self._state.create_message(channel, author, data, uploads)
        await self._settle()
        return stored

    async def forward_message(self, original: StoredMessage, channel: Channel, author: User) -> StoredMessage:
        """`author` forwards `original` (from any channel) into `channel`: an empty message whose
        snapshot holds the original's content, attachments, embeds and stickers."""
        self._check_can_post(channel, author, False)
        reference = {"type": FORWARD, "message_id": str(original.id), "channel_id": str(original.channel.id)}
        stored = self._state.create_message(channel, author, {"message_reference": reference}, {})
        await self._settle()
        return stored

    async def edit_message(
        self,
        message: StoredMessage,
        *,
        content: str | None = None,
        embeds: Iterable[JsonDict] | None = None,
        attachments: Iterable[FileSpec] | None = None,
    ) -> StoredMessage:
        """The author edits the message (MESSAGE_UPDATE with edited_timestamp); None keeps a field."""
        data: JsonDict = {}
        if content is not None:
            data["content"] = content
        if embeds is not None:
            data["embeds"] = list(embeds)
        uploads = {}
        if attachments is not None:
            uploads = {i: as_upload(spec) for i, spec in enumerate(attachments)}
            data["attachments"] = [{"id": i} for i in uploads]
        self._state.edit_message(message, data, uploads)
        await self._settle()
        return message

    async def unfurl(self, message: StoredMessage, embeds: Iterable[JsonDict]) -> StoredMessage:
        """Discord adds link embeds after the fact: MESSAGE_UPDATE without an edited_timestamp."""
        self._state.edit_message(message, {"embeds": list(embeds)}, {}, by_user=False)
        await self._settle()
        return message

    async def delete_message(self, message: StoredMessage) -> None:
        """The author (or a moderator) deletes the message: MESSAGE_DELETE, its files 404 from now on."""
        self._state.delete_message(message)
        await self._settle()

    async def slash_command(
        self,
        channel: Channel,
        user: User,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        attachments: Mapping[str, FileSpec] | None = None,
    ) -> InteractionRecord:
        """`user` runs /name in `channel`. Options by name: str/int/bool, User, Role, Channel, or a
        file (name, bytes[, type]) for attachment options (also accepted through `attachments`)."""
        merged = {**(options or {}), **(attachments or {})}
        record = self._interactions.slash_command(channel, user, name, merged)
        await self._settle()
        return record

    async def context_menu(
        self, channel: Channel, user: User, name: str, target: StoredMessage | User
    ) -> InteractionRecord:
        """`user` picks Apps > name on a message (or a user)."""
        record = self._interactions.context_menu(channel, user, name, target)
        await self._settle()
        return record

    async def press_button(self, message: StoredMessage, user: User, custom_id: str) -> InteractionRecord:
        """`user` presses the button `custom_id` on `message` (it must be there and enabled)."""
        record = self._interactions.component(message, user, custom_id, None)
        await self._settle()
        return record

    async def choose(
        self, message: StoredMessage, user: User, custom_id: str, values: Iterable[str]
    ) -> InteractionRecord:
        """`user` picks `values` in the select menu `custom_id` on `message`."""
        record = self._interactions.component(message, user, custom_id, values)
        await self._settle()
        return record

    def _check_can_post(self, channel: Channel, author: User, with_files: bool) -> None:
        if not self._state.enforce_permissions:
            return
        if channel.type is ChannelType.DM:
            if author is not channel.recipient:
                raise PermissionError(f"{author.name} is not in this DM")
            return
        needed = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
        if with_files:
            needed |= Permission.ATTACH_FILES
        if self._state.permissions(channel, author) & needed != needed:
            raise PermissionError(
                f"{author.name} cannot post{' files' if with_files else ''} in #{channel.name}"
            )

    # -- what the bot did ------------------------------------------------------------------------

    def messages(self, channel: Channel | int, *, include_deleted: bool = True) -> list[StoredMessage]:
        """Every message in `channel` (or channel id), oldest first, ephemeral ones included."""
        channel_id = channel if isinstance(channel, int) else channel.id
        found = [m for m in self._state.messages.values() if m.channel.id == channel_id]
        return [m for m in found if include_deleted or not m.deleted]

    def bot_messages(self, channel: Channel | int, *, include_deleted: bool = False) -> list[StoredMessage]:
        return [
            m for m in self.messages(channel, include_deleted=include_deleted) if m.author is self.bot_user
        ]

    def message(self, message_id: int) -> StoredMessage:
        return self._state.messages[message_id]

    def interaction_responses(self, interaction: InteractionRecord | int) -> list[InteractionReply]:
        """Callback, follow-ups, edits and deletes the bot made with this interaction's token."""
        interaction_id = interaction if isinstance(interaction, int) else interaction.id
        return list(self._state.interactions[interaction_id].replies)

    @property
    def registered_commands(self) -> list[JsonDict]:
        """Every registered application command; guild ones carry "guild_id"."""
        return [c for commands in self._state.commands.values() for c in commands]

    def commands(self, guild: Guild | None = None) -> list[JsonDict]:
        return list(self._state.commands.get(None if guild is None else guild.id, []))

    @property
    def calls(self) -> list[Call]:
        return self._rest.calls

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        """Calls matching a method and an fnmatch pattern such as "/channels/*/messages"."""
        probe = Fault(method.upper(), path_pattern, 0, None, {}, 1)
        return [c for c in self.calls if probe.matches(c.method, c.path)]

    @property
    def unknown_routes(self) -> list[tuple[str, str]]:
        return self._rest.unknown_routes

    @property
    def identify_count(self) -> int:
        return self._gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self._gateway.resume_count

    @property
    def heartbeat_count(self) -> int:
        return self._gateway.heartbeat_count

    @property
    def open_connections(self) -> int:
        """Gateway websockets currently open (0 after a clean client close)."""
        return len(self._gateway.connections)

    @property
    def gateway_urls(self) -> list[str]:
        """Path and query of each websocket the client opened: /gateway?v=10&encoding=json&compress=..."""
        return self._gateway.connected_urls

    @property
    def gateway_frames(self) -> list[JsonDict]:
        """Every frame the client sent on the gateway (IDENTIFY, RESUME, heartbeats ...)."""
        return self._gateway.received

    # -- waiting, faults, reconnects ---------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy, re-checked whenever the fake sees a request or frame."""
        result: T | None = None

        def check() -> bool:
            nonlocal result
            result = predicate()
            return bool(result)

        async with self._condition:
            try:
                await asyncio.wait_for(self._condition.wait_for(check), timeout)
            except TimeoutError:
                recent = [f"{c.method} {c.path} -> {c.status}" for c in self.calls[-5:]]
                raise AssertionError(
                    f"fake Discord: not true within {timeout}s; last calls {recent}"
                ) from None
        assert result is not None
        return result

    def break_download(self, filename: str, *, count: int = 1) -> None:
        """The next `count` downloads of attachments named `filename` lose their connection."""
        self._state.broken_downloads[filename] = count

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        status: int = 429,
        json: Any = None,
        headers: dict[str, str] | None = None,
        *,
        count: int = 1,
    ) -> Fault:
        """The next `count` matching calls get this answer instead (fnmatch path without /api/v10).

        429 defaults to a 0.1 s rate limit with the headers discord.py needs to retry (Via ...),
        403 to Missing Permissions (50013), 404 to Unknown Message (10008).
        """
        return self._rest.fail_next(
            method, path_pattern, status=status, json=json, headers=headers, count=count
        )

    async def force_reconnect(self, how: str = "reconnect", *, wait: bool = True) -> None:
        """Make the client reconnect: "reconnect" sends op 7, "close" drops the socket (code 4000).

        Events sent meanwhile are replayed on RESUME. With `wait`, returns once the client resumed.
        """
        before = self.resume_count
        await self._gateway.force_reconnect(how)
        if wait:
            await self.wait_for(lambda: self.resume_count > before)

    async def invalidate_session(self, *, resumable: bool = False, wait: bool = True) -> None:
        """Send op 9; a non-resumable session makes the client IDENTIFY afresh.

        discord.py waits 5 s before a re-IDENTIFY (`Client.before_identify_hook`); override that hook
        in test clients.
        """
        before = self.identify_count if not resumable else self.resume_count
        self._gateway.invalidate_sessions(resumable=resumable)
        await self._gateway.flush()
        if wait:

            def done() -> bool:
                return (self.resume_count if resumable else self.identify_count) > before

            await self.wait_for(done, timeout=10.0)

    async def settle(self) -> None:
        """Wait until every event the fake queued has been written to the client's socket."""
        await self._settle()

    async def _settle(self) -> None:
        await self._gateway.flush()
        await self._changed()

    async def _changed(self) -> None:
        async with self._condition:
            self._condition.notify_all()
