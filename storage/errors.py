"""What the database raises when it cannot do what was asked (full disk, read-only file, server down)."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

# Every driver error reaches us as a DBAPIError subclass (OperationalError for a full disk, a
# read-only file or a refused connection); callers that can carry on without the write catch it.
DatabaseError = DBAPIError


class StorageUnavailable(RuntimeError):
    """The database cannot be opened or migrated at start; the message names where and why."""


def describe_url(url: str) -> str:
    """The database's URL or file for messages: never its password."""
    try:
        parsed = make_url(url)
    except Exception:
        return "the [storage] url"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or url
    return parsed.render_as_string(hide_password=True)


def reason(error: BaseException) -> str:
    """The driver's own sentence (e.g. "attempt to write a readonly database"), without SQL."""
    original = getattr(error, "orig", None) or error
    return (str(original).splitlines() or [type(original).__name__])[0][:200]
