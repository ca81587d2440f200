"""The gateway websocket: HELLO, IDENTIFY -> READY, RESUME with replay by seq, heartbeats, compression."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from .model import Guild, JsonDict
from .state import GUILD_MEMBERS, GUILD_PRESENCES, GUILDS, MESSAGE_CONTENT, PRIVILEGED_INTENTS, DiscordState

DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE_UPDATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_GUILD_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

# A close code after which discord.py reconnects and RESUMEs (1000 and 4004, 4010-4014 end it).
RESUMABLE_CLOSE = 4000
_MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE")
_CONTENT_FIELDS = {"content": "", "embeds": [], "attachments": [], "components": []}

Encoder = Callable[[str], "str | bytes"]


def _encoder(compress: str | None) -> Encoder:
    """One shared compression context per connection, flushed after every message, as Discord does."""
    if compress == "zlib-stream":
        context = zlib.compressobj()
        return lambda text: context.compress(text.encode()) + context.flush(zlib.Z_SYNC_FLUSH)
    if compress == "zstd-stream":
        # discord.py asks for this only when `zstandard` is importable, so it is here too.
        import zstandard

        zstd = zstandard.ZstdCompressor().compressobj()
        return lambda text: zstd.compress(text.encode()) + zstd.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
    return lambda text: text


def _frame(op: int, data: Any = None) -> JsonDict:
    return {"op": op, "d": data, "s": None, "t": None}


class Connection:
    """One websocket; every frame goes through one ordered outbox so compression stays in sync."""

    def __init__(self, ws: web.WebSocketResponse, encode: Encoder) -> None:
        self.ws = ws
        self.encode = encode
        self.outbox: asyncio.Queue[JsonDict] = asyncio.Queue()
        self.session: Session | None = None
        self.dead = False

    def send(self, frame: JsonDict) -> None:
        self.outbox.put_nowait(frame)

    async def write_loop(self) -> None:
        while True:
            frame = await self.outbox.get()
            try:
                if not self.dead:
                    data = self.encode(json.dumps(frame))
                    if isinstance(data, bytes):
                        await self.ws.send_bytes(data)
                    else:
                        await self.ws.send_str(data)
            except (ConnectionError, RuntimeError):
                self.dead = True
            finally:
                self.outbox.task_done()

    def drop_pending(self) -> None:
        self.dead = True
        while not self.outbox.empty():
            self.outbox.get_nowait()
            self.outbox.task_done()


class Session:
    """A gateway session: outlives its websocket, keeps every dispatch so a RESUME can replay them."""

    def __init__(self, session_id: str, intents: int) -> None:
        self.id = session_id
        self.intents = intents
        self.seq = 0
        self.log: list[JsonDict] = []
        self.connection: Connection | None = None

    def dispatch(self, event: str, data: JsonDict) -> None:
        self.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": self.seq, "d": data}
        self.log.append(frame)
        if self.connection is not None:
            self.connection.send(frame)


class Gateway:
    """Accepts discord.py's websocket and feeds it the state's events."""

    def __init__(
        self,
        state: DiscordState,
        *,
        heartbeat_interval: float,
        privileged_intents: int,
        changed: Callable[[], Awaitable[None]],
    ) -> None:
        self.state = state
        self.heartbeat_interval = heartbeat_interval
        self.privileged_intents = privileged_intents
        self.changed = changed
        self.resume_url = ""
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.received: list[JsonDict] = []  # every frame the client sent, for inspection
        self.connected_urls: list[str] = []  # path and query of every websocket opened
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0

    # -- events out ------------------------------------------------------------------------------

    def dispatch(self, event: str, data: JsonDict, intent: int = 0) -> None:
        """Send an event to every session whose intents cover it (message content stripped if needed)."""
        for session in self.sessions.values():
            if intent and not session.intents & intent:
                continue
            session.dispatch(event, self._visible(session, event, data))

    def announce_guild(self, guild: Guild) -> None:
        """The bot joined a guild while connected: GUILD_CREATE, shaped by each session's intents."""
        for session in self.sessions.values():
            if session.intents & GUILDS:
                session.dispatch("GUILD_CREATE", self.guild_create(guild, session.intents))

    def _visible(self, session: Session, event: str, data: JsonDict) -> JsonDict:
        if event not in _MESSAGE_EVENTS or session.intents & MESSAGE_CONTENT:
            return data
        bot_id = str(self.state.bot_user.id)
        mentioned = any(m.get("id") == bot_id for m in data.get("mentions", []))
        if data.get("author", {}).get("id") == bot_id or mentioned or "guild_id" not in data:
            return data
        return {**data, **_CONTENT_FIELDS}

    async def flush(self) -> None:
        """Wait until every queued frame has been written to its socket."""
        await asyncio.gather(*(c.outbox.join() for c in list(self.connections)))

    # -- test hooks ------------------------------------------------------------------------------

    async def force_reconnect(self, how: str) -> None:
        """`reconnect`: send op 7; `close`: drop the socket with a resumable close code."""
        for connection in list(self.connections):
            session = connection.session
            if session is None:
                continue
            if how == "reconnect":
                connection.send(_frame(RECONNECT))
            elif how == "close":
                # Detach first so events from now on wait in the session log for the RESUME.
                session.connection = None
                connection.session = None
                await connection.ws.close(code=RESUMABLE_CLOSE, message=b"fake: forced reconnect")
            else:
                raise ValueError(f"how must be 'reconnect' or 'close', not {how!r}")

    def invalidate_sessions(self, *, resumable: bool) -> None:
        for connection in list(self.connections):
            if connection.session is not None:
                if not resumable:
                    self.sessions.pop(connection.session.id, None)
                connection.send(_frame(INVALID_SESSION, resumable))

    async def close_all(self) -> None:
        for connection in list(self.connections):
            await connection.ws.close(code=1001, message=b"fake: shutting down")

    # -- the websocket ---------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connected_urls.append(request.path_qs)
        connection = Connection(ws, _encoder(request.query.get("compress")))
        writer = asyncio.create_task(connection.write_loop())
        self.connections.add(connection)
        try:
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"fake: only encoding=json")
                return ws
            connection.send(_frame(HELLO, {"heartbeat_interval": int(self.heartbeat_interval * 1000)}))
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"fake: expected a JSON text frame")
                    break
                await self._receive(connection, json.loads(message.data))
        finally:
            self.connections.discard(connection)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            connection.drop_pending()
            session = connection.session
            if session is not None and session.connection is connection:
                session.connection = None
                if ws.close_code in (1000, 1001):  # a client closing with these ends its session
                    self.sessions.pop(session.id, None)
            await self.changed()
        return ws

    async def _receive(self, connection: Connection, frame: JsonDict) -> None:
        self.received.append(frame)
        op = frame.get("op")
        data: JsonDict = frame["d"] if isinstance(frame.get("d"), dict) else {}
        if op == HEARTBEAT:
            self.heartbeat_count += 1
            connection.send(_frame(HEARTBEAT_ACK))
        elif op == IDENTIFY:
            await self._identify(connection, data)
        elif op == RESUME:
            await self._resume(connection, data)
        elif connection.session is None:
            await connection.ws.close(code=4003, message=b"Not authenticated.")
        elif op == REQUEST_GUILD_MEMBERS:
            self._send_members(connection.session, data)
        elif op not in (PRESENCE_UPDATE, VOICE_STATE_UPDATE):
            await connection.ws.close(code=4001, message=b"Unknown opcode.")
        await self.changed()

    async def _identify(self, connection: Connection, data: JsonDict) -> None:
        if connection.session is not None:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.state.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = int(data.get("intents", -1))
        if intents < 0:
            await connection.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        session = Session(secrets.token_hex(16), intents)
        self.sessions[session.id] = session
        session.connection, connection.session = connection, session
        self.identify_count += 1
        ready = self._ready(session)
        shard = data.get("shard")  # [id, count] from sharded clients; Discord echoes it in READY
        if shard is not None:
            ready["shard"] = shard
        session.dispatch("READY", ready)
        if intents & GUILDS:
            for guild in self.state.guilds:
                if shard is None or (guild.id >> 22) % int(shard[1]) == int(shard[0]):
                    session.dispatch("GUILD_CREATE", self.guild_create(guild, intents))

    async def _resume(self, connection: Connection, data: JsonDict) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.state.token:
            connection.send(_frame(INVALID_SESSION, False))
            return
        if session.connection is not None and session.connection is not connection:
            session.connection.session = None
        session.connection, connection.session = connection, session
        seen = int(data.get("seq") or 0)
        for frame in session.log:
            if frame["s"] > seen:
                connection.send(frame)
        self.resume_count += 1
        session.dispatch("RESUMED", {"_trace": ["fake-discord"]})

    def _ready(self, session: Session) -> JsonDict:
        bot = self.state.bot_user
        return {
            "v": 10,
            "user": {**bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0, "email": None},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.state.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(self.state.application_id), "flags": self.application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "_trace": ["fake-discord"],
        }

    def application_flags(self) -> int:
        # The *_LIMITED flags of an unverified bot (under 100 guilds) for each enabled privileged intent.
        flags = 0
        if self.privileged_intents & MESSAGE_CONTENT:
            flags |= 1 << 19
        if self.privileged_intents & GUILD_MEMBERS:
            flags |= 1 << 15
        if self.privileged_intents & GUILD_PRESENCES:
            flags |= 1 << 13
        return flags

    def guild_create(self, guild: Guild, intents: int) -> JsonDict:
        """Without the members intent Discord lists only the bot itself."""
        if intents & GUILD_MEMBERS:
            return guild.payload()
        bot = guild.member(self.state.bot_user)
        return guild.payload(members=[] if bot is None else [bot])

    def _send_members(self, session: Session, data: JsonDict) -> None:
        guild = self.state.guild(data.get("guild_id", ""))
        if guild is None:
            return
        wanted = {str(u) for u in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        members = [
            m.payload()
            for m in guild.members.values()
            if (not wanted or str(m.user.id) in wanted) and m.user.name.lower().startswith(query)
        ]
        chunk: JsonDict = {"guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
