"""Logging set-up with a filter that masks every configured secret, wherever it appears."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import quote

MASK = "********"


class RedactSecrets(logging.Filter):
    """Masks secrets in the formatted message, e.g. a Telegram token inside a request URL."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Also the %-encoded forms: a Telegram token's ':' appears as %3A inside file URLs.
        forms = {form for s in secrets if len(s) >= 6 for form in (s, quote(s, safe=""), quote(s))}
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = self.redact(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def setup_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs carry the token: keep them quiet too.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))  # migrations say enough
