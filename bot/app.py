"""Wiring: storage, classifier, core and adapters opened in order and closed in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from contextlib import AsyncExitStack
from typing import Any, TextIO

from bot.adapters.base import ChatAdapter, EventHandler
from bot.adapters.console import ConsoleAdapter
from bot.adapters.discord import DiscordAdapter
from bot.adapters.telegram import TelegramAdapter
from bot.config import Config
from bot.core import BotCore
from bot.errors import ConfigError
from classifier import Classifier
from storage import ChatDefaults, Repository, StorageUnavailable

log = logging.getLogger(__name__)
PURGE_EVERY_S = 3600.0


async def open_repository(config: Config) -> Repository:
    m = config.moderation
    defaults = ChatDefaults(
        memes_only=m.memes_only,
        action=m.action,
        threshold=m.threshold,
        auto_reply=m.auto_reply,
        review_threshold=m.review_threshold,
    )
    try:
        return await Repository.open(config.storage.url, defaults=defaults)
    except StorageUnavailable as exc:
        sqlite = config.storage.url.startswith("sqlite")
        hint = (
            "that the file and its folder are writable"
            if sqlite
            else "that the server is up and the URL right"
        )
        raise ConfigError(f"[storage] url: {exc}; check {hint}") from None


def build_adapters(
    config: Config, handler: EventHandler, *, repo: Repository, stdin: TextIO, stdout: TextIO
) -> list[ChatAdapter]:
    """Every platform with a token; the console chat when there is none."""
    adapters: list[ChatAdapter] = []
    if config.discord.token:
        on_discord = DiscordAdapter(config.discord, handler, max_file_bytes=config.classifier.max_image_bytes)
        adapters.append(on_discord)
    if config.telegram.token:

        async def follow_migration(old_chat_id: str, new_chat_id: str) -> None:
            await repo.migrate_chat(platform="telegram", old_chat_id=old_chat_id, new_chat_id=new_chat_id)

        telegram = TelegramAdapter(
            config.telegram,
            handler,
            max_file_bytes=config.classifier.max_image_bytes,
            on_chat_migrated=follow_migration,
        )
        adapters.append(telegram)
    if adapters:
        return adapters
    console = ConsoleAdapter(
        handler=handler,
        stdin=stdin,
        stdout=stdout,
        chat_id=config.console.chat_id,
        user_name=config.console.user_name,
        export_dir=config.console.export_dir,
    )
    return [console]


async def run_bot(config: Config, *, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> None:
    """Run until SIGINT/SIGTERM or until an adapter ends on its own (console end of input)."""
    async with AsyncExitStack() as stack:
        # The model first: a missing checkpoint should stop start-up before anything is created.
        classifier = Classifier.from_settings(config.classifier)
        stack.push_async_callback(classifier.aclose)
        repo = await open_repository(config)
        stack.push_async_callback(repo.aclose)
        await classifier.start()
        log.info("classifier ready: model %s", classifier.model_version)
        core = BotCore(classifier=classifier, repo=repo, moderation=config.moderation, storage=config.storage)
        stack.push_async_callback(core.aclose)  # again last: notices of updates that were in flight
        adapters = build_adapters(config, core.handle, repo=repo, stdin=stdin, stdout=stdout)
        for adapter in adapters:
            await adapter.start()
            stack.push_async_callback(adapter.stop)
        # Closed first, while the adapters still run: self-deleting notices need a live connection.
        stack.push_async_callback(core.aclose)
        await _serve(repo, adapters)
    log.info("memebot stopped")


async def _serve(repo: Repository, adapters: list[ChatAdapter]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    waiters: list[asyncio.Task[Any]] = [
        asyncio.create_task(a.wait_closed(), name=f"{a.name}-closed") for a in adapters
    ]
    waiters.append(asyncio.create_task(stop.wait(), name="signal"))
    purge = asyncio.create_task(_purge_forever(repo), name="purge-images")
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in [*waiters, purge]:
            task.cancel()
        await asyncio.gather(*waiters, purge, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _purge_forever(repo: Repository) -> None:
    while True:
        try:
            removed = await repo.purge_expired_images()
            if removed:
                log.info("removed %d stored images past their retention", removed)
        except Exception:
            log.exception("purging expired images failed; will try again")
        await asyncio.sleep(PURGE_EVERY_S)
