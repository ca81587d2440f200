"""Pointing the real discord.py at the fake, and running a client against it for the span of a block."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl


def point_discord_py_at(*, api_url: str, gateway_url: str, cdn_url: str) -> Callable[[], None]:
    """Aim discord.py's REST base, default gateway and CDN base at the fake; returns the undo.

    discord.py builds every REST URL (webhooks and interaction callbacks too) from `Route.BASE`, and
    a plain `Client` never asks GET /gateway/bot: it opens `DiscordWebSocket.DEFAULT_GATEWAY`, then
    READY's `resume_gateway_url` for RESUMEs.
    """
    route, socket, asset = discord.http.Route, discord.gateway.DiscordWebSocket, discord.asset.Asset
    saved = (route.BASE, socket.DEFAULT_GATEWAY, asset.BASE)
    route.BASE = api_url
    socket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    asset.BASE = cdn_url

    def restore() -> None:
        route.BASE, socket.DEFAULT_GATEWAY, asset.BASE = saved

    return restore


@contextlib.asynccontextmanager
async def connected(client: discord.Client, token: str, *, ready_within: float) -> AsyncIterator[None]:
    """Log in, connect, wait for on_ready; on exit close the client and await its connect task."""
    try:
        await client.login(token)
    except BaseException:
        await client.close()  # login opened an HTTP session
        raise
    connection = asyncio.create_task(client.connect())
    ready = asyncio.create_task(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {ready, connection}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
        )
        if connection in done:
            connection.result()  # raises what stopped it (bad token, disallowed intents ...)
        if ready not in done:
            raise TimeoutError(f"discord.py was not ready within {ready_within}s")
        yield
    finally:
        ready.cancel()
        await client.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(connection, ready, return_exceptions=True)
