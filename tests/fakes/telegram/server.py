"""The HTTP side of the fake: `/bot<token>/<method>` and `/file/bot<token>/<file_path>` on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web

from .methods import METHODS
from .records import ApiError, Call, Fault, JsonDict, Upload
from .state import TelegramState

_LOGGER = logging.getLogger(__name__)

# Parameters whose values are plain strings; everything else arrives JSON-encoded (PTB sends
# form fields: strings as they are, every other value through json.dumps).
STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "inline_message_id", "file_id", "url",
        "secret_token", "ip_address", "language_code", "business_connection_id", "message_effect_id",
        "emoji", "title", "description", "short_description", "name", "custom_title", "query",
    }
)  # fmt: skip
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
MAX_UPLOAD = 60 * 1024 * 1024


class BotApiServer:
    """Serves the Bot API from a TelegramState; faults and long polls are handled here."""

    def __init__(self, state: TelegramState) -> None:
        self.state = state
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._methods = {name.lower(): name for name in [*METHODS, "getUpdates"]}

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        """Answer every pending long poll and stalled call, then close the server."""
        self.state.closing.set()
        self.state.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.state.token:
            return _answer(ApiError(401, "Unauthorized").body(), 401)
        requested = request.match_info["method"]
        method = self._methods.get(requested.lower(), requested)
        params, uploads = await _read_params(request)
        self.state.calls.append(Call(method, params, tuple(uploads)))
        try:
            fault = self._take_fault(method)
            if fault is not None and fault.kind == "drop":
                if request.transport is not None:
                    request.transport.close()
                return web.Response(status=500)  # never reaches the client: the connection is gone
            if fault is not None and fault.kind == "stall":
                await self._stall(fault.seconds)
            if fault is not None and fault.error is not None:
                raise fault.error
            result = await self._call(method, params)
        except ApiError as error:
            return _answer(error.body(), error.error_code)
        finally:
            self.state.notify()
        return _answer({"ok": True, "result": result})

    async def _call(self, method: str, params: JsonDict) -> Any:
        if method == "getUpdates":
            return await self._get_updates(params)
        if method not in METHODS:
            _LOGGER.warning("fake Telegram: unsupported Bot API method %s(%s)", method, params)
            self.state.unknown_methods.append(method)
            raise ApiError(404, f"Not Found: method {method}")
        try:
            return METHODS[method](self.state, params)
        except KeyError as missing:
            raise ApiError(400, f"Bad Request: {missing.args[0]} is empty") from None
        except (TypeError, ValueError) as wrong:  # e.g. int("abc"): a malformed parameter
            raise ApiError(400, f"Bad Request: {wrong}") from None

    def _take_fault(self, method: str) -> Fault | None:
        queue = self.state.faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    async def _stall(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.state.closing.wait(), seconds)

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        """Long poll: answer as soon as an update is pending, else after `timeout` seconds."""
        state = self.state
        if state.webhook:
            raise ApiError(409, WEBHOOK_CONFLICT)
        if params.get("allowed_updates") is not None:
            state.allowed_updates = list(params["allowed_updates"])
        state.confirm(params.get("offset"))
        state.poll_generation += 1
        generation = state.poll_generation
        state.notify()  # a poll still waiting from before is answered with 409, like Telegram does
        loop = asyncio.get_running_loop()
        # A misbehaving server (or proxy) answers at once instead of holding the poll open.
        deadline = loop.time() + (0.0 if state.no_long_polling else float(params.get("timeout") or 0))
        while True:
            changed = state.changed
            if generation != state.poll_generation:
                raise ApiError(409, CONFLICT)
            updates = state.deliverable(int(params.get("limit") or 100))
            remaining = deadline - loop.time()
            if updates or remaining <= 0 or state.closing.is_set():
                return updates
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def _download(self, request: web.Request) -> web.Response:
        stored = self.state.files.by_path(request.match_info["file_path"])
        if request.match_info["token"] != self.state.token or stored is None:
            return _answer(ApiError(404, "Not Found").body(), 404)
        self.state.calls.append(Call("downloadFile", {"file_path": stored.file_path}))
        self.state.notify()
        return web.Response(body=stored.data, content_type="application/octet-stream")


async def _read_params(request: web.Request) -> tuple[JsonDict, dict[str, Upload]]:
    """Query, form, multipart or JSON parameters, decoded; uploads replace their attach:// names."""
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.content_type == "application/json" and request.can_read_body:
        raw.update(await request.json())
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                uploads[key] = Upload(key, value.filename, value.content_type, value.file.read())
            else:
                raw[key] = value
    params = {key: _decode(key, value) for key, value in raw.items()}
    attached = {f"attach://{key}": upload for key, upload in uploads.items()}
    params = {
        key: attached.get(value, value) if isinstance(value, str) else value for key, value in params.items()
    }
    for key, upload in uploads.items():
        if f"attach://{key}" not in raw.values():
            params[key] = upload
    return params, uploads


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _answer(body: JsonDict, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
