"""Bot API calls under Telegram's fault rules: flood waits, network backoff, group migrations."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import BadRequest, ChatMigrated, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

log = logging.getLogger(__name__)
T = TypeVar("T")
Migrated = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    backoff_s: float = 0.5  # doubled after each network failure
    max_flood_wait_s: float = 60.0  # a longer flood wait is not worth holding a reply for


DEFAULT_POLICY = RetryPolicy()


async def call_api(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    idempotent: bool = True,
    on_migrated: Migrated | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> T:
    """Run `call`, retrying what Telegram says may be retried; anything else is raised as it is.

    A send that timed out may still have arrived, so non-idempotent calls are not retried on
    TimedOut (a duplicate verdict is worse than the apology the core then sends).
    """
    for attempt in range(1, policy.attempts + 1):
        last = attempt == policy.attempts
        try:
            return await call()
        except RetryAfter as exc:
            wait = flood_wait_s(exc)
            if last or wait > policy.max_flood_wait_s:
                raise
            log.warning("Telegram flood limit on %s: waiting %.1f s before retrying", what, wait)
            await asyncio.sleep(wait)
        except ChatMigrated as exc:
            if on_migrated is None or last:
                raise
            await on_migrated(exc.new_chat_id)
        except BadRequest:
            raise  # a NetworkError subclass, but retrying cannot fix the request
        except TimedOut as exc:
            if not idempotent or last:
                raise
            await _back_off(what, exc, attempt, policy)
        except NetworkError as exc:
            if last:
                raise
            await _back_off(what, exc, attempt, policy)
    raise AssertionError("unreachable: the last attempt returns or raises")


def flood_wait_s(exc: RetryAfter) -> float:
    """RetryAfter's wait in seconds, whichever type this PTB version hands out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # int today, timedelta tomorrow
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait)


async def _back_off(what: str, exc: NetworkError, attempt: int, policy: RetryPolicy) -> None:
    delay = policy.backoff_s * 2 ** (attempt - 1)
    log.warning("Telegram network error on %s (%s): retrying in %.1f s", what, exc, delay)
    await asyncio.sleep(delay)
