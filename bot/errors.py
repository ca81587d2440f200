"""The two tiers of errors: UserError is shown as written, anything else gets an apology."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; its message is shown to them as written."""


class PermissionMissing(UserError):
    """The bot lacks a platform right it needs (e.g. deleting messages)."""


class MessageGone(Exception):
    """The message to act on no longer exists (deleted, too old to touch)."""


class ConfigError(Exception):
    """A bad setting; the message names the key."""


class ChatUnavailable(Exception):
    """The platform refuses the bot this chat (removed, blocked, banned): nobody can be told."""


class ModeratorCheckFailed(UserError):
    """The platform did not say who moderates the chat (a network or server error); shown as written."""

    def __init__(self, platform: str) -> None:
        super().__init__(
            f"I couldn't check who the admins are here: {platform} didn't answer. "
            "Please try again in a minute."
        )
        self.platform = platform


class StartupError(Exception):
    """A platform could not be reached or understood at start; one line that names what to check."""
