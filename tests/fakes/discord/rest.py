"""The REST side: request parsing, routing, call log, injected faults, and the small read-only routes."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .model import Channel, ChannelType, Guild, JsonDict, Upload, guess_content_type
from .records import ApiError, Call, Fault, unknown_channel
from .state import DiscordState

_log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
_FILE_FIELD = re.compile(r"files\[(\d+)\]")

DEFAULT_BODIES: dict[int, JsonDict] = {
    400: {"message": "400: Bad Request", "code": 0},
    401: {"message": "401: Unauthorized", "code": 0},
    403: {"message": "Missing Permissions", "code": 50013},
    404: {"message": "Unknown Message", "code": 10008},
    429: {"message": "You are being rate limited.", "retry_after": 0.1, "global": False},
    500: {"message": "500: Internal Server Error", "code": 0},
}


@dataclass
class ApiRequest:
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    uploads: dict[int, Upload]


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], Awaitable[Any]]


class Router:
    """Discord route templates (`/channels/{channel_id}/messages`) to handlers; first match wins."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []

    def add(self, method: str, template: str, handler: Handler, *, auth: bool = True) -> None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append((method, re.compile(f"^{pattern}$"), handler, auth))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool] | None:
        for route_method, pattern, handler, auth in self._routes:
            found = pattern.match(path)
            if found and route_method == method:
                return handler, found.groupdict(), auth
        return None


def rate_limit_fault(retry_after: float, *, is_global: bool) -> tuple[JsonDict, dict[str, str]]:
    body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
    headers = {
        "Retry-After": str(retry_after),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Scope": "global" if is_global else "user",
        # discord.py treats a 429 without Via as a Cloudflare ban and does not retry.
        "Via": "1.1 google",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return body, headers


class RestApi:
    """Answers /api/v10/...: logs every call, applies injected faults, then routes."""

    def __init__(self, state: DiscordState, changed: Callable[[], Awaitable[None]]) -> None:
        self.state = state
        self.changed = changed
        self.router = Router()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.gateway_url = ""

    def fail_next(
        self,
        method: str,
        path_pattern: str,
        *,
        status: int,
        json: Any,
        headers: dict[str, str] | None,
        count: int,
    ) -> Fault:
        body = json if json is not None else DEFAULT_BODIES.get(status, {"message": "error", "code": 0})
        default_headers: dict[str, str] = {}
        if status == 429:
            default_headers = rate_limit_fault(
                float(body.get("retry_after", 0.1)), is_global=bool(body.get("global"))
            )[1]
        fault = Fault(
            method.upper(), path_pattern, status, body, {**default_headers, **(headers or {})}, count
        )
        self.faults.append(fault)
        return fault

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, uploads = await _read_body(request)
        call = Call(request.method, path, dict(request.query), body, list(uploads.values()))
        call.reason = request.headers.get("X-Audit-Log-Reason")
        self.calls.append(call)
        api_request = ApiRequest(request.method, path, {}, dict(request.query), body, uploads)
        reply = await self._answer(api_request, request.headers.get("Authorization"))
        call.status = reply.status
        await self.changed()
        if reply.status == 204 or reply.body is None:
            return web.Response(status=204 if reply.status < 300 else reply.status, headers=reply.headers)
        # Exactly "application/json": discord.py compares the header verbatim, a charset makes it text.
        headers = {**reply.headers, "Content-Type": "application/json"}
        return web.Response(body=json.dumps(reply.body).encode(), status=reply.status, headers=headers)

    async def _answer(self, request: ApiRequest, authorization: str | None) -> Reply:
        fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
        if fault is not None:
            fault.count -= 1
            return Reply(fault.status, fault.body, dict(fault.headers))
        matched = self.router.match(request.method, request.path)
        if matched is None:
            _log.warning("fake Discord has no route for %s %s", request.method, request.path)
            self.unknown_routes.append((request.method, request.path))
            return Reply(404, {"message": "404: Not Found", "code": 0})
        handler, request.params, needs_auth = matched
        if needs_auth and authorization != f"Bot {self.state.token}":
            return Reply(401, DEFAULT_BODIES[401])
        try:
            result = await handler(request)
        except ApiError as error:
            return Reply(error.status, error.body)
        return result if isinstance(result, Reply) else Reply(200 if result is not None else 204, result)


async def _read_body(request: web.Request) -> tuple[Any, dict[int, Upload]]:
    """JSON, or multipart with `payload_json` and `files[n]` parts (what discord.py sends)."""
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        uploads: dict[int, Upload] = {}
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read(decode=True)
            file_field = _FILE_FIELD.fullmatch(part.name or "")
            if part.name == "payload_json":
                payload = json.loads(data)
            elif file_field is not None:
                filename = part.filename or f"file{file_field[1]}"
                # discord.py labels every file application/octet-stream; Discord looks at the name.
                declared = part.headers.get("Content-Type", "application/octet-stream")
                content_type = (
                    guess_content_type(filename) if declared == "application/octet-stream" else declared
                )
                uploads[int(file_field[1])] = Upload(filename, bytes(data), content_type)
        return payload, uploads
    raw = await request.read()
    if not raw:
        return None, {}
    try:
        return json.loads(raw), {}
    except ValueError:
        return raw.decode(errors="replace"), {}


class GeneralRoutes:
    """Who am I, where is the gateway, application commands, guild and channel reads."""

    def __init__(self, api: RestApi) -> None:
        self.api = api
        self.state = api.state

    def register(self, router: Router) -> None:
        add = router.add
        add("GET", "/gateway", self.gateway, auth=False)
        add("GET", "/gateway/bot", self.gateway_bot)
        add("GET", "/users/@me", self.me)
        add("POST", "/users/@me/channels", self.open_dm)
        add("GET", "/users/{user_id}", self.get_user)
        add("GET", "/oauth2/applications/@me", self.application)
        add("GET", "/applications/@me", self.application)
        for prefix in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            add("GET", prefix + "/commands", self.list_commands)
            add("PUT", prefix + "/commands", self.overwrite_commands)
            add("POST", prefix + "/commands", self.upsert_command)
            add("GET", prefix + "/commands/{command_id}", self.get_command)
            add("PATCH", prefix + "/commands/{command_id}", self.edit_command)
            add("DELETE", prefix + "/commands/{command_id}", self.delete_command)
        add("GET", "/guilds/{guild_id}", self.get_guild)
        add("GET", "/guilds/{guild_id}/channels", self.guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self.guild_roles)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member)
        add("GET", "/channels/{channel_id}", self.get_channel)
        add("POST", "/channels/{channel_id}/typing", self.typing)

    async def gateway(self, request: ApiRequest) -> JsonDict:
        return {"url": self.api.gateway_url}

    async def gateway_bot(self, request: ApiRequest) -> JsonDict:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return {"url": self.api.gateway_url, "shards": 1, "session_start_limit": limit}

    async def me(self, request: ApiRequest) -> JsonDict:
        return {**self.state.bot_user.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def get_user(self, request: ApiRequest) -> JsonDict:
        user = self.state.user(request.params["user_id"])
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user.payload()

    async def open_dm(self, request: ApiRequest) -> JsonDict:
        user = self.state.user((request.json or {}).get("recipient_id", 0))
        if user is None:
            raise ApiError(400, 50007, "Cannot send messages to this user")
        return self.state.dm_channel(user).payload()

    async def application(self, request: ApiRequest) -> JsonDict:
        bot = self.state.bot_user
        return {
            "id": str(self.state.application_id),
            "name": bot.name,
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": bot.payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": bot.payload(),
            "interactions_endpoint_url": None,
        }

    def _scope(self, request: ApiRequest) -> int | None:
        if request.params["app_id"] != str(self.state.application_id):
            raise ApiError(403, 50001, "Missing Access")
        guild_id = request.params.get("guild_id")
        if guild_id is None:
            return None
        if self.state.guild(guild_id) is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return int(guild_id)

    def _command(self, request: ApiRequest) -> JsonDict:
        commands = self.state.commands.get(self._scope(request), [])
        found = next((c for c in commands if c["id"] == request.params["command_id"]), None)
        if found is None:
            raise ApiError(404, 10063, "Unknown application command")
        return found

    async def list_commands(self, request: ApiRequest) -> list[JsonDict]:
        return self.state.commands.get(self._scope(request), [])

    async def overwrite_commands(self, request: ApiRequest) -> list[JsonDict]:
        return self.state.set_commands(self._scope(request), request.json or [])

    async def upsert_command(self, request: ApiRequest) -> Reply:
        return Reply(201, self.state.upsert_command(self._scope(request), request.json or {}))

    async def get_command(self, request: ApiRequest) -> JsonDict:
        return self._command(request)

    async def edit_command(self, request: ApiRequest) -> JsonDict:
        command = self._command(request)
        return self.state.upsert_command(self._scope(request), {**command, **(request.json or {})})

    async def delete_command(self, request: ApiRequest) -> None:
        command = self._command(request)
        self.state.commands[self._scope(request)].remove(command)

    def _guild(self, request: ApiRequest) -> Guild:
        guild = self.state.guild(request.params["guild_id"])
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    async def get_guild(self, request: ApiRequest) -> JsonDict:
        payload = self._guild(request).payload()
        for key in (
            "channels",
            "members",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "member_count",
        ):
            payload.pop(key, None)
        return payload

    async def guild_channels(self, request: ApiRequest) -> list[JsonDict]:
        return [c.payload() for c in self._guild(request).channels]

    async def guild_roles(self, request: ApiRequest) -> list[JsonDict]:
        return [r.payload() for r in self._guild(request).roles]

    async def get_member(self, request: ApiRequest) -> JsonDict:
        guild = self._guild(request)
        user = self.state.user(request.params["user_id"])
        member = None if user is None else guild.member(user)
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return member.payload()

    async def get_channel(self, request: ApiRequest) -> JsonDict:
        return channel_of(self.state, request).payload()

    async def typing(self, request: ApiRequest) -> None:
        channel_of(self.state, request)


def channel_of(state: DiscordState, request: ApiRequest) -> Channel:
    """The channel named in the path, if it exists and the bot can see it."""
    channel = state.channel(request.params["channel_id"])
    if channel is None:
        raise unknown_channel()
    if channel.type is not ChannelType.DM:
        state.require(channel, state.bot_user, 0)
    return channel
