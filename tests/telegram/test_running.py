"""Running on Telegram: the wiring in bot/app.py, webhook mode, a refused token."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import socket
import time

import aiohttp
import pytest

from bot.adapters.console import ConsoleAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.adapters.telegram.webhook import SECRET_HEADER
from bot.app import build_adapters, open_repository, run_bot
from bot.config import Config, Secret
from bot.errors import ConfigError
from bot.events import Event
from storage import Repository
from tests.fakes.telegram_api import FakeTelegram
from tests.modelfactory import meme_jpeg
from tests.telegram.conftest import Chats, StartBot, telegram_config

HOOK_URL = "https://bot.example/telegram/hook"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def ignore(event: Event) -> None:
    return None


def test_a_telegram_token_builds_the_telegram_adapter_instead_of_the_console(
    config: Config, tg: FakeTelegram, repo: Repository
) -> None:
    streams = {"stdin": io.StringIO(), "stdout": io.StringIO()}
    with_token = dataclasses.replace(config, telegram=telegram_config(tg))
    [adapter] = build_adapters(with_token, ignore, repo=repo, **streams)
    assert isinstance(adapter, TelegramAdapter)
    [console] = build_adapters(config, ignore, repo=repo, **streams)
    assert isinstance(console, ConsoleAdapter)


async def test_run_bot_serves_telegram_and_follows_a_migration(
    config: Config, tg: FakeTelegram, chats: Chats
) -> None:
    old = tg.group(-77, "Old memes", type="group")
    tg.set_member(old, chats.olga, "creator")
    running = asyncio.create_task(run_bot(dataclasses.replace(config, telegram=telegram_config(tg))))
    try:
        tg.send_text(old, chats.olga, "/memesonly on")
        await tg.wait_for_message(old, containing="Memes-only is on", timeout=30)
        service = {"message_id": 9, "date": int(time.time()), "chat": old, "from": chats.olga}
        tg.post_update("message", {**service, "migrate_to_chat_id": -10077})
        await tg.wait_for(lambda: not tg.pending_updates)  # fetched; stopping lets it finish
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    async with await open_repository(config) as repo:
        assert (await repo.get_chat_settings(platform="telegram", chat_id="-10077")).memes_only


async def test_webhook_mode_registers_with_the_secret_and_checks_it(
    start_bot: StartBot, tg: FakeTelegram, chats: Chats
) -> None:
    port = free_port()
    secret = "s3cret_for-the-hook"
    await start_bot(
        mode="webhook", webhook_url=HOOK_URL, webhook_listen="127.0.0.1", webhook_port=port,
        webhook_secret=Secret(secret),
    )  # fmt: skip
    assert tg.webhook is not None
    assert (tg.webhook["url"], tg.webhook["secret_token"]) == (HOOK_URL, secret)
    assert "message" in tg.webhook["allowed_updates"] and tg.calls_to("getUpdates") == []

    tg.send_photo(chats.group, chats.alice, meme_jpeg())
    [update] = tg.pending_updates  # Telegram would POST it to the hook; here the test does
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {SECRET_HEADER: "guess"}):
            async with http.post(url, json=update, headers=headers) as refused:
                assert refused.status == 403
        async with http.post(url, json=update, headers={SECRET_HEADER: secret}) as accepted:
            assert accepted.status == 200
    await tg.wait_for_message(chats.group, containing="😂 Meme")


async def test_webhook_without_a_configured_secret_gets_a_random_one(
    start_bot: StartBot, tg: FakeTelegram
) -> None:
    await start_bot(
        mode="webhook", webhook_url=HOOK_URL, webhook_listen="127.0.0.1", webhook_port=free_port()
    )
    assert tg.webhook is not None and len(tg.webhook["secret_token"]) >= 32


async def test_a_refused_token_stops_start_up_with_a_config_error(start_bot: StartBot) -> None:
    with pytest.raises(ConfigError, match="token was refused") as refused:
        await start_bot(token=Secret("42:not-the-token"))
    assert "not-the-token" not in str(refused.value)  # PTB's own InvalidToken message shows it
