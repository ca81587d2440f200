"""Webhook mode: a small aiohttp server that checks Telegram's secret header and queues updates.

PTB's own `start_webhook` needs tornado (the `webhooks` extra); aiohttp is already ours, and the
server is this small, so we serve the webhook ourselves, as PTB's custom-webhook example does.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


class WebhookServer:
    """Accepts POSTs on `path` carrying the secret, hands each JSON update to `deliver`."""

    def __init__(self, *, listen: str, port: int, path: str, secret: str, deliver: Deliver) -> None:
        self._listen = listen
        self._port = port
        self._path = path
        self._secret = secret
        self._deliver = deliver
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(self._path, self._receive)
        self._runner = web.AppRunner(app, access_log=None)  # access lines would carry nothing useful
        await self._runner.setup()
        await web.TCPSite(self._runner, self._listen, self._port).start()
        log.info("Telegram webhook listening on %s:%d%s", self._listen, self._port, self._path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self._secret.encode()):
            log.warning("refused a webhook request without the right secret from %s", request.remote)
            return web.Response(status=403)
        try:
            update = await request.json()
        except ValueError:
            return web.Response(status=400)
        if not isinstance(update, dict):
            return web.Response(status=400)
        await self._deliver(update)
        return web.Response()
