"""TelegramAdapter: python-telegram-bot's Application, run by hand inside the shared event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from telegram import BotCommand, Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, TypeHandler
from telegram.request import HTTPXRequest

from bot.adapters.base import EventHandler
from bot.adapters.telegram.calls import call_api
from bot.adapters.telegram.chat import ChatContexts, ModeratorCache
from bot.adapters.telegram.updates import BOT_COMMANDS, UpdateRouter
from bot.adapters.telegram.webhook import WebhookServer
from bot.config import TelegramConfig
from bot.errors import ConfigError, StartupError
from bot.logs import RedactSecrets

log = logging.getLogger(__name__)
ChatMigrated = Callable[[str, str], Awaitable[None]]
TelegramApp = Application[Any, Any, Any, Any, Any, Any]

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
CONCURRENT_UPDATES = 64  # one slow image must never hold up the next update
POLL_TIMEOUT_S = 30
STARTUP_FIRST_DELAY_S, STARTUP_MAX_DELAY_S = 1.0, 15.0
# A long poll that comes back empty sooner than this came from a server that does not long-poll: the
# next one waits out the rest, so such a server gets one request a second instead of hundreds.
MIN_EMPTY_POLL_S = 1.0


class PacedPolling(HTTPXRequest):
    """PTB's getUpdates connection, made never to spin: an empty answer that came back sooner than
    MIN_EMPTY_POLL_S is handed on only once that much time has passed."""

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        started = time.monotonic()
        code, payload = await super().do_request(url, method, *args, **kwargs)
        elapsed = time.monotonic() - started
        if elapsed < MIN_EMPTY_POLL_S and url.endswith("/getUpdates") and _empty_result(payload):
            await asyncio.sleep(MIN_EMPTY_POLL_S - elapsed)
        return code, payload


def _empty_result(payload: bytes) -> bool:
    try:
        return json.loads(payload).get("result") == []
    except (ValueError, AttributeError):
        return False


class TelegramAdapter:
    """Long polling (or a webhook) in the caller's loop; updates become events for the core."""

    name = "telegram"

    def __init__(
        self,
        config: TelegramConfig,
        handler: EventHandler,
        *,
        max_file_bytes: int,
        on_chat_migrated: ChatMigrated | None = None,
    ) -> None:
        if config.token is None or not config.token.reveal():
            raise ConfigError("[telegram] token is not set")
        self._config = config
        self._handler = handler
        self._max_file_bytes = max_file_bytes
        self._on_chat_migrated = on_chat_migrated
        self._app: TelegramApp | None = None
        self._webhook: WebhookServer | None = None
        self._webhook_secret = self._secret_or_random(config)
        self._log_mask = LogMask([config.token.reveal(), self._webhook_secret])
        self._migrations: dict[tuple[int, int], asyncio.Future[None]] = {}
        self._closed = asyncio.Event()

    async def start(self) -> None:
        """Connect; network failures are retried with backoff for `startup_retry_s`, then StartupError
        (one line, naming the setting to check; never the token); a refused token is a ConfigError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.startup_retry_s
        delay = STARTUP_FIRST_DELAY_S
        while True:
            self._log_mask.install()
            try:
                await self._start()
                return
            except InvalidToken:
                await self._teardown()
                raise ConfigError(
                    "[telegram] token was refused by Telegram; check it with @BotFather"
                ) from None
            except (NetworkError, TimedOut) as exc:
                await self._teardown()
                reason = self._log_mask.redact(str(exc))
                if isinstance(exc, BadRequest) or loop.time() >= deadline:
                    raise StartupError(
                        f"Telegram: could not reach the Bot API at {self._config.base_url} ({reason}); "
                        "check [telegram] base_url and the network"
                    ) from None
                wait = min(delay, deadline - loop.time())
                log.warning("Telegram: could not reach the Bot API (%s); retrying in %.1f s", reason, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, STARTUP_MAX_DELAY_S)
            except (asyncio.CancelledError, KeyboardInterrupt):
                await self._teardown()
                raise
            except Exception as exc:  # an answer that is not the Bot API's (garbage, half a getMe)
                await self._teardown()
                reason = self._log_mask.redact(f"{type(exc).__name__}: {exc}")[:200]
                raise StartupError(
                    f"Telegram: the server at {self._config.base_url} did not answer like the Bot API "
                    f"({reason}); check [telegram] base_url"
                ) from None

    async def stop(self) -> None:
        """Stop taking updates, let the ones in flight finish, then close the connection."""
        await self._teardown()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _start(self) -> None:
        app = self._app = self._build()
        await app.initialize()  # getMe: a wrong token fails here
        moderators = ModeratorCache(self._config.moderator_cache_s)
        router = UpdateRouter(
            bot=app.bot,
            handler=self._handler,
            chats=ChatContexts(bot=app.bot, moderators=moderators, migrate=self._migrate),
            migrate=self._migrate,
            album_window_s=self._config.album_window_s,
            max_file_bytes=self._max_file_bytes,
        )
        app.add_handler(TypeHandler(Update, router.on_update))
        app.add_error_handler(self._on_error)
        await app.start()
        await self._publish_commands(app)
        if self._config.mode == "webhook":
            await self._start_webhook(app)
        else:
            assert app.updater is not None
            await app.updater.start_polling(
                timeout=POLL_TIMEOUT_S,
                bootstrap_retries=3,
                allowed_updates=ALLOWED_UPDATES,
                error_callback=self._polling_failed,
            )
        log.info("Telegram: running as @%s (%s)", app.bot.username, self._config.mode)

    def _build(self) -> TelegramApp:
        config = self._config
        assert config.token is not None
        builder = (
            ApplicationBuilder()
            .token(config.token.reveal())
            .base_url(config.base_url)
            .base_file_url(config.base_file_url)
            .concurrent_updates(CONCURRENT_UPDATES)
            .get_updates_request(PacedPolling(connection_pool_size=1))
        )
        if config.mode == "webhook":
            builder = builder.updater(None)
        return builder.build()

    async def _start_webhook(self, app: TelegramApp) -> None:
        async def deliver(data: dict[str, Any]) -> None:
            try:
                update = Update.de_json(data, app.bot)
            except Exception:  # answered 200 all the same: Telegram would resend it forever
                log.warning("ignored a webhook update that could not be read", exc_info=True)
                return
            await app.update_queue.put(update)

        config = self._config
        self._webhook = WebhookServer(
            listen=config.webhook_listen,
            port=config.webhook_port,
            path=urlsplit(config.webhook_url).path or "/",
            secret=self._webhook_secret,
            deliver=deliver,
        )
        await self._webhook.start()
        await call_api(
            lambda: app.bot.set_webhook(
                config.webhook_url, secret_token=self._webhook_secret, allowed_updates=ALLOWED_UPDATES
            ),
            what="setWebhook",
        )

    async def _publish_commands(self, app: TelegramApp) -> None:
        commands = [BotCommand(name, description) for name, description in BOT_COMMANDS.items()]
        try:
            await call_api(lambda: app.bot.set_my_commands(commands), what="setMyCommands")
        except TelegramError as exc:  # only the menu is missing: the commands still work
            log.warning("could not publish the Telegram command menu: %s", exc)

    async def _teardown(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if self._webhook is not None:
                await self._webhook.stop()  # the webhook stays set: Telegram keeps updates meanwhile
                self._webhook = None
            if app.running:
                await app.stop()  # waits for the updates being handled
            await app.shutdown()
            await app.bot.shutdown()  # closes the HTTP pool even when initialize() failed half-way
        self._log_mask.remove()

    async def _migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: once per pair, however many calls notice it at once."""
        key = (old_chat_id, new_chat_id)
        task = self._migrations.get(key)
        if task is None:
            log.info("Telegram group %s is now supergroup %s; its settings follow", *key)
            task = self._migrations[key] = asyncio.ensure_future(self._report_migration(*key))

            def forget_failure(done: asyncio.Future[None]) -> None:
                if done.cancelled() or done.exception() is not None:
                    del self._migrations[key]  # the next call that notices tries again

            task.add_done_callback(forget_failure)
        await asyncio.shield(task)

    async def _report_migration(self, old_chat_id: int, new_chat_id: int) -> None:
        if self._on_chat_migrated is not None:
            await self._on_chat_migrated(str(old_chat_id), str(new_chat_id))

    async def _on_error(self, update: object, context: Any) -> None:
        """Last resort: the core catches its own errors, so this sees only the adapter's."""
        update_id = update.update_id if isinstance(update, Update) else None
        log.error("Telegram update %s failed", update_id, exc_info=context.error)

    def _polling_failed(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            log.error("another process is polling with this bot token (or a webhook is set): %s", exc)
        else:
            log.warning("polling Telegram failed, retrying: %s", exc)

    @staticmethod
    def _secret_or_random(config: TelegramConfig) -> str:
        if config.webhook_secret is not None and config.webhook_secret.reveal():
            return config.webhook_secret.reveal()
        return secrets.token_urlsafe(32)  # a webhook is never left unchecked


class QuietStop(logging.Filter):
    """PTB's Updater logs a full traceback when its last getUpdates at shutdown (confirming the
    updates it fetched) fails, as it does whenever Telegram is down: one line says as much."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "telegram.ext.Updater" and "mark all fetched updates" in record.getMessage():
            reason = record.exc_info[1] if record.exc_info else None
            record.msg, record.args = f"could not confirm the last updates at shutdown: {reason}", None
            record.exc_info, record.exc_text, record.levelno, record.levelname = (
                None,
                None,
                logging.WARNING,
                "WARNING",
            )
        return True


class LogMask:
    """Masks the token in the logs of httpx and PTB, which put it in every request URL."""

    def __init__(self, secrets_: list[str]) -> None:
        # File download URLs carry the token %-encoded ("123%3AABC"), so mask that form too.
        self._filter = RedactSecrets([*secrets_, *(quote(s, safe="") for s in secrets_)])
        self._quiet = QuietStop()
        self._loggers: list[logging.Logger] = []

    def redact(self, text: str) -> str:
        return self._filter.redact(text)

    def install(self) -> None:
        if self._loggers:
            return
        names = ["httpx", *(n for n in logging.root.manager.loggerDict if n.startswith("telegram"))]
        self._loggers = [logging.getLogger(name) for name in names]
        for logger in self._loggers:
            logger.addFilter(self._quiet)  # before the mask, which formats the traceback it keeps
            logger.addFilter(self._filter)

    def remove(self) -> None:
        for logger in self._loggers:
            logger.removeFilter(self._quiet)
            logger.removeFilter(self._filter)
        self._loggers = []
