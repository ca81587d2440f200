"""Start-up against a Bot API that is not there or not right: one line naming what to check, retries
with backoff for network failures, the token never shown; and no spinning on a server that answers
getUpdates at once instead of long-polling."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from bot.adapters.telegram import TelegramAdapter
from bot.config import Secret, TelegramConfig
from bot.errors import StartupError
from bot.events import Event
from tests.fakes.telegram_api import FakeTelegram

TOKEN = "123456:SECRET-token-that-must-never-print"


async def ignore(_event: Event) -> None:
    return None


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """A local HTTP server answering every request with `handler`; gives its Bot API base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/bot"

    yield start
    for runner in runners:
        await runner.cleanup()


def adapter(base_url: str, retry_s: float = 0.0) -> TelegramAdapter:
    config = TelegramConfig(
        token=Secret(TOKEN), base_url=base_url, base_file_url=base_url, startup_retry_s=retry_s
    )
    return TelegramAdapter(config, ignore, max_file_bytes=1 << 20)


async def test_a_closed_port_is_retried_then_named_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    url = f"http://127.0.0.1:{closed_port()}/bot"
    started = time.monotonic()
    with pytest.raises(StartupError) as failed:
        await adapter(url, retry_s=2.5).start()
    message = str(failed.value)
    assert "\n" not in message and "check [telegram] base_url and the network" in message
    assert url in message and TOKEN not in message and "SECRET" not in caplog.text
    assert caplog.text.count("retrying in") == 2  # after 1 s, then 1.5 s: the 2.5 s were spent
    assert time.monotonic() - started >= 2.5


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>502 Bad Gateway</body></html>",  # garbage with a 200
        b'{"ok": true, "result": {"id": 1}}',  # an incomplete getMe
    ],
)
async def test_a_server_that_is_not_the_bot_api_is_named_in_one_line(
    server: Callable[[Handler], Awaitable[str]], body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    url = await server(answer)
    with pytest.raises(StartupError, match=r"check \[telegram\] base_url") as failed:
        await adapter(url, retry_s=30).start()  # not retried: retrying cannot fix a wrong server
    assert "\n" not in str(failed.value) and TOKEN not in str(failed.value) and "SECRET" not in caplog.text


async def test_an_error_that_echoes_the_request_path_never_shows_the_token(
    server: Callable[[Handler], Awaitable[str]], caplog: pytest.LogCaptureFixture
) -> None:
    async def echo(request: web.Request) -> web.Response:
        answer = {"ok": False, "error_code": 502, "description": f"no route {request.path}"}
        return web.json_response(answer, status=502)

    url = await server(echo)
    with pytest.raises(StartupError) as failed:
        await adapter(url).start()
    assert TOKEN not in str(failed.value) and "SECRET" not in str(failed.value)
    assert "********" in str(failed.value) and "SECRET" not in caplog.text


async def test_an_instant_empty_getupdates_is_not_polled_hundreds_of_times_a_second(
    tg: FakeTelegram,
) -> None:
    tg.stop_long_polling()
    bot = TelegramAdapter(
        TelegramConfig(token=Secret(tg.token), base_url=tg.base_url, base_file_url=tg.base_file_url),
        ignore,
        max_file_bytes=1 << 20,
    )
    await bot.start()
    try:
        before = len(tg.calls_to("getUpdates"))
        await asyncio.sleep(3.0)
        polls = len(tg.calls_to("getUpdates")) - before
    finally:
        await bot.stop()
    assert 1 <= polls <= 4  # about one a second, where it made 188 a second


async def test_sigint_with_telegram_down_exits_at_once_without_a_traceback(
    tg: FakeTelegram, bright_checkpoint: Path, tmp_path: Path
) -> None:
    config = tmp_path / "memebot.toml"
    config.write_text(
        f"[telegram]\ntoken = '{tg.token}'\nbase_url = '{tg.base_url}'\n"
        f"base_file_url = '{tg.base_file_url}'\n"
        f"[storage]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}'\n"
        f"[classifier]\ncheckpoint = '{bright_checkpoint}'\nwarmup = false\n"
    )
    memebot = Path(sys.executable).with_name("memebot")
    proc = await asyncio.create_subprocess_exec(
        str(memebot), "--config", str(config), "run", stderr=asyncio.subprocess.PIPE, cwd=tmp_path
    )
    assert proc.stderr is not None
    lines: list[tuple[float, str]] = []
    running = asyncio.Event()

    async def read() -> None:
        assert proc.stderr is not None
        async for line in proc.stderr:
            lines.append((time.monotonic(), line.decode()))
            if "running as" in lines[-1][1]:
                running.set()

    reader = asyncio.create_task(read())
    async with asyncio.timeout(60):
        await running.wait()
    await tg.stop()  # Telegram goes down under the running bot
    await asyncio.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(30):
        assert await proc.wait() == 0
        await reader
    ended = time.monotonic()
    text = "".join(line for _, line in lines)
    assert "Traceback" not in text and tg.token not in text
    stopped = next(at for at, line in lines if "memebot stopped" in line)
    assert ended - stopped < 3.0  # it took 4.7 s, tearing torch down after the bot had stopped
